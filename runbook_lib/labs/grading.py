"""Grading a lab: the fault is gone, nothing else was broken, deleted or created anew, and what it took.

Four rules, each a function returning what is wrong (nothing when it holds):
- the fault is gone: the injector's probe no longer sees it, and the checks it made FAIL pass;
- nothing else fails: no other check FAILs;
- the rendered files under --out are still what the sandbox rendering writes;
- nothing was replaced: every resource there at the start is still the same one
  (``identities.py``), except the kinds a correct fix creates anew.
The message for the first rule never names the cause: the trainee finds it with the suite.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..checks import Status, run_checks
from ..checks.base import AWS_ERRORS
from . import identities
from .catalog import Lab
from .context import LabContext
from .injectors import PROBES
from .progress import OpenLab

STILL_THERE = "the symptom that was reported is still there"


@dataclass(frozen=True)
class Grade:
    lab: str
    passed: bool
    problems: tuple[str, ...]
    hints: int
    seconds: float
    checks: int           # grades asked for, this one included
    fault: str = ""       # what the fault was: told once the lab is passed


def fault_gone(lab: Lab, ctx: LabContext, opened: OpenLab, failing: dict[str, str]) -> list[str]:
    try:
        there = PROBES[lab.injector](ctx, opened.details)
    except AWS_ERRORS:   # what the probe reads is gone altogether (deleted): not a repair
        there = True
    return [STILL_THERE] if there or any(i in failing for i in opened.reveals) else []


def nothing_else_fails(opened: OpenLab, failing: dict[str, str]) -> list[str]:
    return [f"check {i} fails: {found}" for i, found in failing.items() if i not in opened.reveals]


def rendered_drift(ctx: LabContext) -> list[str]:
    """Rendered files under --out that are missing or differ from what the parameters render for the sandbox."""
    from ..render import render_files
    from ..targets import make_target

    expected = render_files(ctx.org, ctx.app, make_target("sandbox", endpoint=ctx.endpoint))
    return [rel for rel, text in sorted(expected.items())
            if not (ctx.out / rel).is_file() or (ctx.out / rel).read_text() != text]


def files_as_rendered(lab: Lab, ctx: LabContext, opened: OpenLab) -> list[str]:
    return [f"{ctx.out / rel} is not what `runbook render --target sandbox` writes" for rel in rendered_drift(ctx)
            if rel != opened.details.get("edited")]   # the hand-edited lab's own file is the first rule's


def nothing_replaced(lab: Lab, ctx: LabContext, opened: OpenLab) -> list[str]:
    return identities.differences(opened.baseline, identities.snapshot(ctx), lab.may_replace)


def failing_checks(ctx: LabContext) -> dict[str, str]:
    return {r.id: r.found for r in run_checks(ctx.org, ctx.app, ctx.clients, "all") if r.status is Status.FAIL}


def grade(lab: Lab, ctx: LabContext, opened: OpenLab, now: float | None = None) -> Grade:
    failing = failing_checks(ctx)
    problems = (fault_gone(lab, ctx, opened, failing) + nothing_else_fails(opened, failing)
                + files_as_rendered(lab, ctx, opened) + nothing_replaced(lab, ctx, opened))
    seconds = (now or time.time()) - opened.started
    return Grade(lab.name, not problems, tuple(problems), opened.hints, seconds, opened.checks + 1,
                 "" if problems else lab.text(lab.fault, opened.names))
