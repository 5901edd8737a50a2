"""What every check function gets, and small helpers to build results."""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from ..parameters.models import App, Org
from .result import CheckResult, Status


@dataclass
class Context:
    org: Org
    app: App | None
    clients: object     # LiveClients or SandboxClients: client(service, account_id, region=None)
    cache: dict = field(default_factory=dict)   # API answers shared by checks within one run

    @property
    def ops(self) -> str:
        return self.org.accounts.operations.id

    def client(self, service: str, account_id: str | None = None, region: str | None = None):
        return self.clients.client(service, account_id or self.ops, region)


def clusters_of(ctx: Context) -> list:
    """The deploy targets the checks look at: the app's clusters, or every declared cluster without an app."""
    from ..resolved import deploy_targets, resolve

    return list(resolve(ctx.org, ctx.app).deploy_targets) if ctx.app else deploy_targets(ctx.org)


def result(check_id: str, ok: bool, resource: str, expected: str, found: str, remedy: str, link: str = "",
           *, warn: bool = False) -> CheckResult:
    status = Status.PASS if ok else (Status.WARN if warn else Status.FAIL)
    return CheckResult(check_id, status, resource, expected, str(found), remedy, link)


def error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "ClientError")
    return type(exc).__name__


def unreachable(check_id: str, resource: str, expected: str, exc: Exception) -> CheckResult:
    """An API call failed for a reason other than 'not found': never a pass."""
    return CheckResult(check_id, Status.FAIL, resource, expected, f"could not look: {error_code(exc)}: {exc}",
                       "Check credentials, the region and network access, then run the check again.")


AWS_ERRORS = (ClientError, BotoCoreError)
