"""Where a lab runs: the parameters and output folder the suite was applied with, and the sandbox's clients.

Labs touch the sandbox only. :func:`open_context` refuses any other target before a
client exists, and a sandbox that is not running, each with one line naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..errors import RunbookError
from ..parameters import load_app, load_org
from ..parameters.models import App, Org
from ..render.targets import Target
from ..resolved import ResolvedApp, resolve

SANDBOX = Target.sandbox.value


class LabError(RunbookError):
    """A lab command refused: the message names the thing and the rule; nothing was changed."""


@dataclass(frozen=True)
class Where:
    """The flags of the lab commands, as given (they are echoed back in hints and symptoms)."""

    org_file: str = "parameters/org.yaml"
    app_file: str | None = None
    target: str = SANDBOX
    out: str = "build"

    def refuse_other_targets(self) -> None:
        if self.target != SANDBOX:
            raise LabError(f"--target {self.target}: labs inject faults and run only against the sandbox "
                           f"(--target {SANDBOX}); nothing was contacted or changed.")

    @property
    def flags(self) -> str:
        return f"--org {self.org_file} --app {self.app_file} --target {self.target} --out {self.out}"

    @property
    def check_flags(self) -> str:
        return f"--org {self.org_file} --app {self.app_file} --target {self.target}"


@dataclass
class LabContext:
    where: Where
    org: Org
    app: App
    clients: object            # checks.sessions.SandboxClients
    endpoint: str
    cache: dict = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return Path(self.where.out)

    @cached_property
    def resolved(self) -> ResolvedApp:
        return resolve(self.org, self.app)

    @property
    def ops(self) -> str:
        return self.org.accounts.operations.id

    def client(self, service: str, account_id: str | None = None, region: str | None = None):
        return self.clients.client(service, account_id or self.ops, region)

    def names(self) -> dict[str, str]:
        """What lab texts may name; an injector's details add to (or override) these."""
        r = self.resolved
        first = r.stages[0]
        return {"app": self.app.name, "source": self.app.source_repository, "manifests": self.app.manifests_repository,
                "source_name": self.app.source_repository.split("/", 1)[1], "stage": first.name,
                "cluster": first.deployments[0].cluster, "account": first.deployments[0].target.account_name,
                "root": f"ci/{self.app.name}", "org": self.where.org_file, "flags": self.where.flags,
                "flags_check": self.where.check_flags, "edited": ""}


def load_parameters(where: Where) -> tuple[Org, App]:
    if not where.app_file:
        raise LabError("labs need --app: the application the suite was applied for (for example "
                       "--app parameters/apps/web.yaml); nothing was changed.")
    org = load_org(where.org_file)
    return org, load_app(where.app_file, org, where.org_file)


def open_context(where: Where) -> LabContext:
    """The lab's view of the running sandbox; refuses other targets first, before any client is made."""
    where.refuse_other_targets()
    org, app = load_parameters(where)
    from ..checks.sessions import SandboxClients
    from ..sandbox.server import status

    running = status()
    if running is None:
        raise LabError("the sandbox is not running: labs need the sandbox the suite was applied in "
                       "(`runbook sandbox start --org ...`, then `runbook apply ...`); nothing was changed.")
    return LabContext(where, org, app, SandboxClients(running.url, org.region, org.terraform_role_name), running.url)
