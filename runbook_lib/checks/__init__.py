"""boto3 checks: preflight before any apply, postflight after, status while pipelines run.

Every check is read-only and returns :class:`CheckResult` objects; a check of
something the sandbox could not host is reported NOT_EMULATED, never PASS.
"""

from __future__ import annotations

from ..parameters.models import App, Org
from .base import Context
from .postflight import postflight
from .preflight import preflight
from .result import CheckResult, Status, counts, failed, summary, table, to_html, to_json

PHASES = ("preflight", "postflight", "all")


def clients_for(org: Org, target: str):
    from .sessions import LiveClients, SandboxClients

    if target == "sandbox":
        from ..sandbox.server import require_running

        return SandboxClients(require_running().url, org.region, org.terraform_role_name)
    return LiveClients(org.region, org.terraform_role_name)


def run_checks(org: Org, app: App | None, clients, phase: str = "all",
               roots: tuple[str, ...] = ("common", "ci", "cd")) -> list[CheckResult]:
    ctx = Context(org, app, clients)
    results: list[CheckResult] = []
    if phase in ("preflight", "all"):
        results += preflight(ctx)
    if phase in ("postflight", "all"):
        results += postflight(ctx, roots)
    return results


__all__ = ["CheckResult", "Context", "PHASES", "Status", "clients_for", "counts", "failed", "run_checks",
           "summary", "table", "to_html", "to_json"]
