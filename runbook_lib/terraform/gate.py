"""The apply gate: only a summarized, approved plan can be applied.

:func:`approve` is the one way to get an :class:`ApprovedPlan`, and
:meth:`runbook_lib.terraform.runner.Terraform.apply` takes nothing else. Deletes
and replacements stop the run unless explicitly allowed, even with auto-approve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import RunbookError
from .plan import PlanSummary


class ApprovalError(RunbookError):
    """The plan was not approved; nothing was applied."""


class DestroyNotAllowed(ApprovalError):
    """The plan deletes or replaces something and deletes were not allowed for this run."""


class ApprovalNeeded(ApprovalError):
    """Nobody said yes yet: no unattended approval for this run and nobody to ask here."""


class NotApproved(ApprovalError):
    """The person asked said no."""


@dataclass(frozen=True)
class ApprovedPlan:
    summary: PlanSummary
    approved_by: str      # "auto-approve" or "confirmed"


Confirm = Callable[[PlanSummary], bool]


def approve(summary: PlanSummary, *, auto_approve: bool = False, allow_destroy: bool = False,
            confirm: Confirm | None = None) -> ApprovedPlan:
    destructive = summary.destructive
    if destructive and not allow_destroy:
        listed = "\n".join(f"  - {c.action}: {c.address}" + (f" ({c.why})" if c.why else "") for c in destructive)
        raise DestroyNotAllowed(
            f"The plan for {summary.root} would delete or replace {len(destructive)} resource(s); "
            f"nothing was applied:\n{listed}\nIf that is intended, run again with --allow-destroy "
            "(allow_destroy=True)."
        )
    if auto_approve:
        return ApprovedPlan(summary, "auto-approve")
    if confirm is None:
        raise ApprovalNeeded(
            f"The plan for {summary.root} needs approval and nobody can be asked here; nothing was applied. "
            "Review the plan, then run again with --auto-approve (auto_approve=True)."
        )
    if not confirm(summary):
        raise NotApproved(f"The plan for {summary.root} was not approved; nothing was applied.")
    return ApprovedPlan(summary, "confirmed")
