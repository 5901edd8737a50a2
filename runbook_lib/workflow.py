"""``runbook apply`` and ``runbook destroy``: every root in order, each through the gate.

apply:   render -> static validation -> for common, CI, CD: init, plan, summary,
         approval, apply of that saved plan, outputs. Stops at the first failure
         and says which step failed.
destroy: the app's roots in reverse order (the shared common root only on request),
         each with a destroy plan through the gate.
unlock:  release the state lock of one root, left by a run that was killed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import RunbookError, ValidationFailed
from .parameters.models import App, Org
from .render import make_target, render_files, render_roots, write_files
from .terraform.gate import Confirm, approve
from .terraform.plan import PlanSummary
from .terraform.runner import Terraform

Sink = Callable[[str], None]


@dataclass
class StepResult:
    root: str
    step: str                      # "plan", "apply", "destroy"
    status: str                    # "applied", "no changes", "failed", "destroyed"
    seconds: float = 0.0
    plan: PlanSummary | None = None
    outputs: dict = field(default_factory=dict)
    error: str = ""


class WorkflowFailed(RunbookError):
    def __init__(self, message: str, results: list[StepResult]):
        self.results = results
        super().__init__(message)


@dataclass
class Options:
    target: str = "sandbox"
    auto_approve: bool = False
    allow_destroy: bool = False
    confirm: Confirm | None = None
    sink: Sink = print
    show_plan: Callable[[PlanSummary], None] | None = None
    timeout: float = 1800


def prepare(org: Org, app: App | None, out: Path, options: Options):
    """Seed the sandbox (if that is the target), render and statically validate; return (target, roots)."""
    target = make_target(options.target)
    if options.target == "sandbox":
        from .sandbox.seed import seed

        report = seed(org, target.endpoint)
        for line in report.created:
            options.sink(f"[sandbox] seeded {line}")
    write_files(out, render_files(org, app, target))
    from .validate import Status, validate_tree

    findings = validate_tree(org, app, target, out)
    failed = [f for f in findings if f.status is Status.FAIL]
    if failed:
        listed = "\n".join(f"  - {f.check} {f.subject}: {f.detail}" for f in failed)
        raise ValidationFailed(f"static validation failed; nothing was planned or applied:\n{listed}")
    return target, render_roots(org, app, target)


def run_root(root, out: Path, target, options: Options, *, destroy: bool = False, show_version: bool = False) -> StepResult:
    """init, plan, summary, gate, apply (or destroy) and outputs for one root; raises on the first failure."""
    started = time.monotonic()
    verb = "destroy" if destroy else "apply"
    step = "init"
    try:
        tf = Terraform(Path(out) / root.path, root=root.name, env=target.terraform_env(), sink=options.sink,
                       timeout=options.timeout)
        if show_version:
            options.sink(f"[{root.name}] terraform {tf.version()}")
        tf.init()
        step = "plan"
        summary = tf.plan(destroy=destroy)
        options.sink(f"[{root.name}] plan: {summary.headline()}")
        if options.show_plan:
            options.show_plan(summary)
        if summary.is_empty:
            return StepResult(root.name, step, "no changes", time.monotonic() - started, summary,
                              {} if destroy else tf.output())
        step = "approve"
        approved = approve(summary, auto_approve=options.auto_approve,
                           allow_destroy=options.allow_destroy or destroy, confirm=options.confirm)
        step = verb
        tf.apply(approved)
        return StepResult(root.name, verb, "destroyed" if destroy else "applied", time.monotonic() - started,
                          summary, {} if destroy else tf.output())
    except RunbookError as exc:
        failed = StepResult(root.name, step, "failed", time.monotonic() - started, error=str(exc))
        raise WorkflowFailed(f"{verb} stopped at {step} {root.name}:\n{exc}", [failed]) from exc


def _run_roots(roots, out: Path, target, options: Options, *, destroy: bool) -> list[StepResult]:
    results: list[StepResult] = []
    total = len(roots)
    verb = "destroy" if destroy else "apply"
    for number, root in enumerate(roots, start=1):
        options.sink(f"== step {number}/{total}: {verb} {root.name}")
        try:
            results.append(run_root(root, out, target, options, destroy=destroy, show_version=number == 1))
        except WorkflowFailed as exc:
            results += exc.results
            failed = exc.results[-1]
            raise WorkflowFailed(f"{verb} stopped at step {number}/{total} ({failed.step} {root.name}):\n"
                                 f"{failed.error}", results) from exc
    return results


def apply_all(org: Org, app: App | None, out: Path, options: Options) -> list[StepResult]:
    target, roots = prepare(org, app, Path(out), options)
    return _run_roots(roots, Path(out), target, options, destroy=False)


def destroy_all(org: Org, app: App | None, out: Path, options: Options, *, include_common: bool = False) -> list[StepResult]:
    """Undo apply_all in reverse order: the app's CD root, then its CI root.

    The common root serves every application, so it goes only when asked
    (``include_common``), or when no app is given.
    """
    target, roots = prepare(org, app, Path(out), options)
    if app is not None and not include_common:
        roots = [r for r in roots if r.name != "cicd-common"]
    return _run_roots(list(reversed(roots)), Path(out), target, options, destroy=True)


LOCK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def unlock(org: Org, app: App | None, root_name: str, lock_id: str, out: Path, options: Options) -> None:
    """Release the state lock ``lock_id`` of one rendered root (the ID the lock error printed).

    Only for a lock whose run is gone: a lock held by a live run protects its state.
    Nothing is rendered or planned; the root must already be in ``out``.
    """
    if not LOCK_ID.match(lock_id):
        raise RunbookError(f"lock ID {lock_id!r} is not a Terraform lock ID (a UUID such as "
                           "0b8d6f1e-1111-2222-3333-444455556666, printed by the error that reported the lock)")
    target = make_target(options.target)
    roots = {r.name: r for r in render_roots(org, app, target)}
    if root_name not in roots:
        raise RunbookError(f"root {root_name!r} is not a root of these parameters (roots: {', '.join(roots)}); "
                           "pass --app for an application's roots")
    workdir = Path(out) / roots[root_name].path
    if not (workdir / "backend.tf").is_file():
        raise RunbookError(f"nothing is rendered at {workdir}: pass the --out of the run that held the lock")
    tf = Terraform(workdir, root=root_name, env=target.terraform_env(), sink=options.sink, timeout=options.timeout)
    tf.init()
    tf.force_unlock(lock_id)
    options.sink(f"[{root_name}] lock {lock_id} released")
