"""The engine: the one place the runbook's workflow lives.

    Settings (immutable) -> prepare: seed the sandbox, render, validate
        -> per root: init, plan, summary, gate, apply of that saved plan, outputs
        -> checks, the connection, pipeline status

The CLI, the notebook cells, the Approve and Re-check buttons and (through the
notebooks) the batch runner all call this and only display what it returns:
:class:`~runbook_lib.results.RootResult` per root, :class:`~runbook_lib.results.CheckReport`
per check run, and the job's :class:`~runbook_lib.results.Record`, which the
engine keeps up to date (and saves, when it has a record file) after every step.

Approval is derived, never stored: whether a plan may apply without a person is
computed from the settings at the moment of applying (:attr:`Settings.unattended`).
On live that takes ``auto_approve=True`` given for this run; a sandbox default
never carries over, and a new target resets approval to "ask".
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import checks as checks_lib
from .errors import RunbookError, ValidationFailed
from .parameters.models import App, Org
from .render import Target, render_files, render_roots, write_files
from .render.roots import RootModule
from .targets import make_target
from .results import DONE, CheckReport, Outcome, Record, RootResult
from .terraform.gate import ApprovalError, ApprovalNeeded, Confirm, approve
from .terraform.plan import PlanSummary
from .terraform.runner import Terraform

Sink = Callable[[str], None]
TARGETS = tuple(t.value for t in Target)
# A batch run names a file here; once it exists, no engine call in its kernels plans or applies.
STOP_FILE_ENV = "RUNBOOK_STOP_FILE"
LOCK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def stop_requested() -> bool:
    """True once the batch run this process belongs to was asked to stop (see batch/processes.py)."""
    stop_file = os.environ.get(STOP_FILE_ENV)
    return bool(stop_file) and os.path.exists(stop_file)


@dataclass(frozen=True)
class Settings:
    """What a run works on. Immutable: a change makes a new Settings (see :meth:`changed`)."""

    org: Org
    app: App | None = None
    target: str = Target.sandbox.value
    out: Path = Path("build")
    stage: str | None = None
    auto_approve: bool | None = None     # None: the target's default (sandbox yes, live never)
    allow_destroy: bool = False
    timeout: float = 1800

    def __post_init__(self) -> None:
        target = self.target.value if isinstance(self.target, Target) else self.target
        if target not in TARGETS:
            raise RunbookError(f"target = {self.target!r} is not a known target (choose one of: {', '.join(TARGETS)}); "
                               "nothing was planned or applied")
        if self.auto_approve not in (None, True, False):
            raise RunbookError(f"auto_approve = {self.auto_approve!r} must be True, False or None")
        if self.stage and self.app and self.stage not in {s.name for s in self.app.stages}:
            raise RunbookError(f"stage = {self.stage!r} is not a stage of {self.app.name} "
                               f"(stages: {', '.join(s.name for s in self.app.stages)})")
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "out", Path(self.out))

    @property
    def unattended(self) -> bool:
        """May a plan apply without a person? On live only with auto_approve=True given for this run."""
        if self.target == Target.live.value:
            return self.auto_approve is True
        return self.auto_approve is not False

    @property
    def approval(self) -> str:
        if not self.unattended:
            return "asks a person"
        return "automatic (auto_approve=True for this run)" if self.auto_approve else "automatic (sandbox default)"

    def changed(self, **changes) -> Settings:
        """A copy with ``changes``. A different target resets approval to "ask" unless given with it."""
        if "target" in changes and changes["target"] != self.target and "auto_approve" not in changes:
            changes["auto_approve"] = False
        return dataclasses.replace(self, **changes)


def _stop_on_failures(findings) -> None:
    """Raise ValidationFailed listing every FAIL among static validation ``findings``."""
    from .validate import Status

    failed = [f for f in findings if f.status is Status.FAIL]
    if failed:
        listed = "\n".join(f"  - {f.check} {f.subject}: {f.detail}" for f in failed)
        raise ValidationFailed(f"static validation failed; nothing was planned or applied:\n{listed}")


class RunStopped(RunbookError):
    """A run over several roots ended before its last root; ``results`` says how far each got."""

    def __init__(self, headline: str, results: list[RootResult], *, interrupted: bool = False):
        self.results = list(results)
        self.interrupted = interrupted
        changed = [r.root for r in self.results if r.changed]
        tail = (f"changed before the stop: {', '.join(changed)}" if changed
                else "nothing was changed in AWS")
        super().__init__(f"{headline}\n{tail}")

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.results)


class Interrupted(RunbookError):
    """SIGINT or SIGTERM arrived while a root was being worked on (Terraform was stopped cleanly)."""

    def __init__(self, result: RootResult):
        self.result = result
        super().__init__(f"interrupted during {result.step} of {result.root}; Terraform was stopped and "
                         "released its state lock")


class _Attempt:
    """One root's progress, so every way out returns the same typed result."""

    def __init__(self, engine: Engine, root: RootModule):
        self.engine, self.root = engine, root
        self.started = time.monotonic()
        self.step = "init"
        self.plan: PlanSummary | None = None

    def result(self, outcome: Outcome, reason: str = "", outputs: dict | None = None) -> RootResult:
        result = RootResult(self.root.name, outcome, self.step, time.monotonic() - self.started,
                            self.plan.headline() if self.plan else "", outputs or {}, reason, self.plan)
        self.engine.keep(result)
        return result


class Engine:
    """The workflow for one Settings; ``sink`` gets progress lines, ``show_plan`` each plan summary."""

    def __init__(self, settings: Settings, *, sink: Sink = print, show_plan: Callable[[PlanSummary], None] | None = None,
                 confirm: Confirm | None = None, record: Record | None = None, record_file: Path | None = None):
        self.settings = settings
        self.sink = sink
        self.show_plan = show_plan
        self.confirm = confirm
        self.record = record if record is not None else Record()
        self.record_file = record_file
        self._target = None
        self._clients = None
        self._ctx = None

    # -- the record ------------------------------------------------------------------
    def keep(self, result: RootResult | CheckReport) -> None:
        if isinstance(result, RootResult):
            self.record.roots[result.root] = result
        else:
            self.record.checks[result.title] = result
        self.save()

    def save(self) -> None:
        if self.record_file:
            self.record.save(self.record_file)

    # -- what gets built -------------------------------------------------------------
    @property
    def target(self):
        if self._target is None:
            self._target = make_target(self.settings.target)
        return self._target

    def roots(self) -> list[RootModule]:
        return render_roots(self.settings.org, self.settings.app, self.target)

    def root(self, name: str) -> RootModule:
        """A root by its name (``ci/web``) or its kind (``ci``)."""
        roots = self.roots()
        for root in roots:
            if name in (root.name, root.name.split("/")[0]):
                return root
        raise RunbookError(f"root {name!r} is not a root of these parameters (roots: {', '.join(r.name for r in roots)})"
                           + ("; pass --app for an application's roots" if self.settings.app is None else ""))

    def seed_sandbox(self):
        """Sandbox only: start the emulator if needed and seed what the guide assumes exists."""
        from .sandbox import server
        from .sandbox.seed import seed

        running = server.start()
        return running, seed(self.settings.org, running.url)

    def render(self, force: bool = False):
        return write_files(self.settings.out, render_files(self.settings.org, self.settings.app, self.target), force=force)

    def validate(self):
        from .validate import summary, validate_tree

        findings = validate_tree(self.settings.org, self.settings.app, self.target, self.settings.out)
        self.record.validation = summary(findings)
        self.save()
        return findings

    def prepare(self) -> list[RootModule]:
        """Seed the sandbox (when that is the target), render and validate; raise if validation fails."""
        if self.settings.target == Target.sandbox.value:
            from .sandbox.seed import seed

            for line in seed(self.settings.org, self.target.endpoint).created:
                self.sink(f"[sandbox] seeded {line}")
        self.render()
        _stop_on_failures(self.validate())
        return self.roots()

    # -- Terraform, root by root -------------------------------------------------------
    def _terraform(self, root: RootModule) -> Terraform:
        """Terraform for one root, refused while a rendered folder holds a file the runbook did not render."""
        from .validate import check_unrendered

        _stop_on_failures(check_unrendered(self.settings.out,
                                           render_files(self.settings.org, self.settings.app, self.target)))
        return Terraform(self.settings.out / root.path, root=root.name, env=self.target.terraform_env(),
                         sink=self.sink, timeout=self.settings.timeout)

    def run_root(self, root: RootModule | str, *, destroy: bool = False, show_version: bool = False) -> RootResult:
        """init, plan, summary, gate; then apply (or destroy) the saved plan and read the outputs.

        Returns every outcome as a :class:`RootResult`: applied, no changes, awaiting approval
        (the plan is kept for :meth:`apply_plan`), stopped by the gate, or failed.
        Raises :class:`Interrupted` on SIGINT/SIGTERM, after Terraform stopped.
        """
        attempt = _Attempt(self, self.root(root) if isinstance(root, str) else root)
        try:
            self._unless_stopping(attempt)
            tf = self._terraform(attempt.root)
            if show_version:
                self.sink(f"[{attempt.root.name}] terraform {tf.version()}")
            tf.init()
            attempt.step = "plan"
            attempt.plan = tf.plan(destroy=destroy)
            self.sink(f"[{attempt.root.name}] plan: {attempt.plan.headline()}")
            if self.show_plan:
                self.show_plan(attempt.plan)
            if attempt.plan.is_empty:
                tf.discard_plan()
                attempt.step = "output"
                return attempt.result(Outcome.NO_CHANGES, outputs={} if destroy else tf.output())
            attempt.step = "approve"
            try:
                approved = approve(attempt.plan, auto_approve=self.settings.unattended,
                                   allow_destroy=self.settings.allow_destroy or destroy, confirm=self.confirm)
            except ApprovalNeeded as exc:
                return attempt.result(Outcome.AWAITING_APPROVAL, str(exc))  # the saved plan stays for a person
            except ApprovalError as exc:
                tf.discard_plan()
                return attempt.result(Outcome.STOPPED, str(exc))
            self._unless_stopping(attempt)
            return self._apply(attempt, tf, approved, destroy)
        except RunbookError as exc:
            return attempt.result(Outcome.FAILED, str(exc))
        except KeyboardInterrupt:
            raise Interrupted(attempt.result(Outcome.INTERRUPTED, f"interrupted during {attempt.step}")) from None

    def apply_plan(self, plan: PlanSummary) -> RootResult:
        """A person approved ``plan`` (the Approve button): apply exactly that saved plan."""
        attempt = _Attempt(self, self.root(plan.root))
        attempt.plan, attempt.step = plan, "approve"
        try:
            approved = approve(plan, allow_destroy=self.settings.allow_destroy, confirm=lambda _plan: True)
        except ApprovalError as exc:   # deletes still stop here unless allowed for this run
            return attempt.result(Outcome.STOPPED, str(exc))
        try:
            self._unless_stopping(attempt)
            return self._apply(attempt, self._terraform(attempt.root), approved, destroy=False)
        except RunbookError as exc:
            return attempt.result(Outcome.FAILED, str(exc))
        except KeyboardInterrupt:
            raise Interrupted(attempt.result(Outcome.INTERRUPTED, f"interrupted during {attempt.step}")) from None

    @staticmethod
    def _unless_stopping(attempt: _Attempt) -> None:
        if stop_requested():
            raise KeyboardInterrupt  # handled like Ctrl-C: recorded as interrupted, nothing more starts

    def _apply(self, attempt: _Attempt, tf: Terraform, approved, destroy: bool) -> RootResult:
        attempt.step = "destroy" if destroy else "apply"
        tf.apply(approved)
        attempt.step = "output"
        outputs = {} if destroy else tf.output()
        return attempt.result(Outcome.DESTROYED if destroy else Outcome.APPLIED, outputs=outputs)

    def _run_roots(self, roots: list[RootModule], *, destroy: bool) -> list[RootResult]:
        verb = "destroy" if destroy else "apply"
        done: list[RootResult] = []
        for number, root in enumerate(roots, start=1):
            self.sink(f"== step {number}/{len(roots)}: {verb} {root.name}")
            try:
                result = self.run_root(root, destroy=destroy, show_version=number == 1)
            except Interrupted as exc:
                done.append(exc.result)
                raise RunStopped(f"{verb} interrupted at step {number}/{len(roots)} ({exc.result.step} {root.name}); "
                                 "Terraform was stopped and released its state lock", done, interrupted=True) from None
            done.append(result)
            if result.outcome not in DONE:
                raise RunStopped(f"{verb} stopped at step {number}/{len(roots)} ({result.step} {root.name}): "
                                 f"{result.outcome.value}\n{result.reason}", done)
        return done

    def apply_all(self) -> list[RootResult]:
        """Render, validate, then common, CI and CD in order; raises :class:`RunStopped` at the first that is not done."""
        return self._run_roots(self.prepare(), destroy=False)

    def destroy_all(self, *, include_common: bool = False) -> list[RootResult]:
        """The app's CD then CI root; the shared common root only when asked (or when no app is given)."""
        roots = self.prepare()
        if self.settings.app is not None and not include_common:
            roots = [r for r in roots if r.name != "cicd-common"]
        return self._run_roots(list(reversed(roots)), destroy=True)

    def unlock(self, root_name: str, lock_id: str) -> None:
        """Release the state lock ``lock_id`` of one rendered root, left by a run that is gone."""
        if not LOCK_ID.match(lock_id):
            raise RunbookError(f"lock ID {lock_id!r} is not a Terraform lock ID (a UUID such as "
                               "0b8d6f1e-1111-2222-3333-444455556666, printed by the error that reported the lock)")
        root = self.root(root_name)
        if root_name != root.name:
            raise RunbookError(f"root {root_name!r} is not a root of these parameters; did you mean {root.name!r}?")
        workdir = self.settings.out / root.path
        if not (workdir / "backend.tf").is_file():
            raise RunbookError(f"nothing is rendered at {workdir}: pass the --out of the run that held the lock")
        tf = self._terraform(root)
        tf.init()
        tf.force_unlock(lock_id)
        self.sink(f"[{root.name}] lock {lock_id} released")

    # -- checks --------------------------------------------------------------------------
    @property
    def clients(self):
        if self._clients is None:
            self._clients = checks_lib.clients_for(self.settings.org, self.settings.target)
        return self._clients

    def _context(self):
        if self._ctx is None:   # one context per engine: it caches what it has looked up
            self._ctx = checks_lib.Context(self.settings.org, self.settings.app, self.clients)
        return self._ctx

    def check(self, phase: str = "all", roots: tuple[str, ...] = ("common", "ci", "cd"),
              title: str | None = None) -> CheckReport:
        """Run the read-only checks of ``phase`` for ``roots`` (and only the chosen stage's pipeline)."""
        results = checks_lib.run_checks(self.settings.org, self.settings.app, self.clients, phase, roots)
        stage = self.settings.stage
        if stage:
            results = [r for r in results if not r.id.startswith("cd.pipeline.") or r.id.startswith(f"cd.pipeline.{stage}.")]
        report = CheckReport(title or phase, tuple(results))
        self.keep(report)
        return report

    def connection(self):
        """The CodeStar connection's status, read once (NOT_EMULATED in a sandbox without it)."""
        from .checks.status import connection_state

        state = connection_state(self._context())
        self.record.connection = state.status
        self.save()
        return state

    def wait_for_connection(self, timeout: float = 900, progress: Sink | None = None):
        from .checks.status import wait_for_connection

        state = wait_for_connection(self._context(), timeout=timeout, progress=progress or self.sink)
        self.record.connection = state.status
        self.save()
        return state

    def pipeline_status(self):
        from .checks.status import pipeline_status

        return pipeline_status(self._context())
