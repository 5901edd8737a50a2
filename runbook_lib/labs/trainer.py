"""The lab commands: list, start, hint, check, reset. Surfaces display what these return.

Every refusal is a :class:`LabError` with one line naming the thing and the rule, raised
before anything is changed: an unknown lab, a target other than the sandbox (before any
client exists), no --app, a lab already open, a sandbox that is not running, a suite
that is not applied (its state, its rendered files, every check passing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from . import identities, progress
from .catalog import LABS, find
from .context import LabContext, LabError, Where, load_parameters, open_context
from .grading import Grade, failing_checks, grade, rendered_drift
from .injectors import INJECTORS
from .restore import restore

Say = Callable[[str], None]
INJECTOR_LABEL = "lab injector"


@dataclass(frozen=True)
class Listed:
    name: str
    title: str
    section: str
    passed: bool


@dataclass(frozen=True)
class Started:
    lab: str
    title: str
    section: str
    symptom: str
    injected: str          # the injector's label line: what it did, without the cause
    progress_file: str


@dataclass(frozen=True)
class Hint:
    lab: str
    number: int
    total: int
    text: str
    exhausted: bool        # no hint was left to reveal; ``text`` is the last one again


@dataclass(frozen=True)
class Reset:
    lab: str
    steps: tuple[str, ...]


def listing(where: Where | None = None) -> list[Listed]:
    done = progress.load(where.out).passed() if where else set()
    return [Listed(lab.name, lab.title, lab.section, lab.name in done) for lab in LABS]


def _open(where: Where):
    state = progress.load(where.out)
    if state.open is None:
        raise LabError(f"no lab is open in {progress.progress_file(where.out)}: start one with "
                       "`runbook lab start NAME` (see `runbook lab list`); nothing was changed.")
    return state, find(state.open.lab)


def _names(ctx: LabContext, details: dict) -> dict[str, str]:
    return {**ctx.names(), **{k: v for k, v in details.items() if isinstance(v, str)}}


def _require_applied(ctx: LabContext) -> None:
    """The suite is applied here: each root's state, its rendered files, and every check passing."""
    missing = [root for root in ("cicd-common", f"ci/{ctx.app.name}", f"cd/{ctx.app.name}")
               if f"{identities.STATE} {root} in {ctx.ops}" not in identities.snapshot(ctx)]
    unrendered = rendered_drift(ctx)
    failing = sorted(failing_checks(ctx)) if not missing else []
    if missing or unrendered or failing:
        what = (f"no Terraform state for {', '.join(missing)}" if missing else
                f"{len(unrendered)} rendered file(s) under {ctx.out} missing or changed, e.g. {unrendered[0]}"
                if unrendered else f"{len(failing)} check(s) fail, e.g. {', '.join(failing[:3])}")
        raise LabError(f"the suite is not applied for {ctx.app.name} in this sandbox ({what}): labs start from the "
                       f"applied state. Get there with `runbook apply {ctx.where.flags} --auto-approve` and "
                       f"`runbook sandbox complete-handshake --org {ctx.where.org_file}`; nothing was changed.")


def start(where: Where, name: str) -> Started:
    lab = find(name)
    where.refuse_other_targets()
    load_parameters(where)
    state = progress.load(where.out)
    if state.open is not None:
        raise LabError(f"lab {state.open.lab!r} is still open: finish it with `runbook lab check` or give it up "
                       f"with `runbook lab reset` before starting {name!r}; nothing was changed.")
    ctx = open_context(where)
    _require_applied(ctx)
    baseline = identities.snapshot(ctx)
    details = INJECTORS[lab.injector](ctx)
    names = _names(ctx, details)
    state.open = progress.OpenLab(lab.name, time.time(), details, names,
                                  [lab.text(r, names) for r in lab.reveals], baseline)
    path = progress.save(where.out, state)
    injected = (f"{INJECTOR_LABEL}: one fault was put into the sandbox for lab {lab.name} "
                f"({time.strftime('%H:%M:%S')}); nothing else was touched.")
    return Started(lab.name, lab.title, lab.section, lab.text(lab.symptom, names), injected, str(path))


def hint(where: Where) -> Hint:
    where.refuse_other_targets()
    state, lab = _open(where)
    opened = state.open
    exhausted = opened.hints >= len(lab.hints)
    if not exhausted:
        opened.hints += 1
        progress.save(where.out, state)
    number = max(opened.hints, 1)
    return Hint(lab.name, number, len(lab.hints), lab.text(lab.hints[number - 1], opened.names), exhausted)


def check(where: Where) -> Grade:
    where.refuse_other_targets()
    state, lab = _open(where)
    ctx = open_context(where)
    result = grade(lab, ctx, state.open)
    if result.passed:
        state.finished.append(progress.Finished(lab.name, "passed", result.hints, round(result.seconds, 1),
                                                result.checks, time.time(), state.open.names))
        state.open = None
    else:
        state.open.checks = result.checks
    progress.save(where.out, state)
    return result


def reset(where: Where, say: Say = print) -> Reset:
    """Put the applied state back (the lab's restore steps) and close the lab, recorded as reset."""
    where.refuse_other_targets()
    state, lab = _open(where)
    ctx = open_context(where)
    opened = state.open
    steps = restore(ctx, lab, opened.details, say)
    state.finished.append(progress.Finished(lab.name, "reset", opened.hints, round(time.time() - opened.started, 1),
                                            opened.checks, time.time(), opened.names))
    state.open = None
    progress.save(where.out, state)
    return Reset(lab.name, tuple(steps))

