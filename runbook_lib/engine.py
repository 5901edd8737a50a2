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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import checks as checks_lib
from .errors import RunbookError, TerraformError, ValidationFailed
from .parameters.models import App, Org
from .render import Target, render_files, render_roots, write_files
from .render.roots import RootModule
from .resolved import deploy_targets
from .targets import make_target
from .results import DONE, CheckReport, Outcome, Record, RootResult
from .terraform.gate import ApprovalError, ApprovalNeeded, Confirm, approve
from .terraform.imports import IMPORTS_FILE, import_file_text, leftovers
from .terraform.plan import PlanSummary
from .terraform.runner import Terraform, private_dir

Sink = Callable[[str], None]
TARGETS = tuple(t.value for t in Target)
# A batch run names a file here; once it exists, no engine call in its kernels plans or applies.
STOP_FILE_ENV = "RUNBOOK_STOP_FILE"
# Resources one root may import after an interrupted apply, in all rounds together.
MAX_IMPORTS = 100
# How a root's reason starts when its apply imported resources it met already in AWS
IMPORTED_REASON = "imported"
# The root every application's CI and CD roots read (bucket, connection parameter); they do not
# read each other, so once it is applied they are planned side by side (see _Ahead).
COMMON_ROOT = "cicd-common"
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

    def __init__(self, result: RootResult, lock: str):
        self.result, self.lock = result, lock
        super().__init__(f"interrupted during {result.step} of {result.root}; Terraform was stopped, and {lock}")


class _Attempt:
    """One root's progress, so every way out returns the same typed result."""

    def __init__(self, engine: Engine, root: RootModule):
        self.engine, self.root = engine, root
        self.started = time.monotonic()
        self.step = "init"
        self.plan: PlanSummary | None = None
        self.imported: list[str] = []   # addresses brought into the state by import blocks

    def result(self, outcome: Outcome, reason: str = "", outputs: dict | None = None) -> RootResult:
        result = RootResult(self.root.name, outcome, self.step, time.monotonic() - self.started,
                            self.plan.headline() if self.plan else "", outputs or {}, reason, self.plan)
        self.engine.keep(result)
        return result


class _Ahead:
    """A root planned in a thread while the roots before it are applied; approval and apply stay in order.

    ``finished`` is set once the engine took its plan through the gate: from then on the
    saved plan is the gate's business (applied, or kept for a person). Any plan that
    was never taken is deleted by :meth:`abandon` (it embeds prior state).

    What Terraform prints meanwhile is held back until the root's turn (:meth:`its_turn`),
    so the output reads root by root and nothing is printed into a person's prompt.
    """

    def __init__(self, engine: Engine, root: RootModule):
        self.engine = engine
        self.attempt = _Attempt(engine, root)
        self.cancel = threading.Event()
        self.tf: Terraform | None = None
        self.error: BaseException | None = None
        self.finished = False
        self._held: list[str] | None = []   # None once the lines go straight to the engine's sink
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._plan, name=f"plan {root.name}", daemon=True)
        self.thread.start()

    def _plan(self) -> None:
        try:
            self.engine._unless_stopping(self.attempt)
            self.tf = self.engine._terraform(self.attempt.root, sink=self._line, cancel=self.cancel)
            self.tf.init()
            self.attempt.step = "plan"
            self.attempt.plan = self.tf.plan()
        except BaseException as exc:  # handed to the main thread by planned()
            self.error = exc

    def _line(self, line: str) -> None:
        with self._lock:
            if self._held is None:
                self.engine.sink(line)
            else:
                self._held.append(line)

    def its_turn(self) -> None:
        """Print what was held back; from now on lines go straight to the engine's sink."""
        with self._lock:
            for line in self._held or []:
                self.engine.sink(line)
            self._held = None

    def wait(self) -> None:
        while self.thread.is_alive():   # in slices, so Ctrl-C reaches the main thread at once
            self.thread.join(0.2)

    def planned(self) -> Terraform:
        """Wait for the plan; raise what stopped it, else the Terraform that holds it."""
        self.wait()
        if self.error is not None:
            raise self.error
        assert self.tf is not None
        return self.tf

    def abandon(self) -> None:
        """Interrupt the plan if it still runs, and delete its saved plan unless the gate took it."""
        self.cancel.set()
        self.wait()
        if self.tf is not None and not self.finished:
            self.tf.discard_plan()


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

    def validate(self, *, terraform: bool = False):
        """Static checks of the rendered tree; with ``terraform``, then Terraform's own on each root.

        Terraform's step (``init -backend=false`` and ``validate``) reads no state and calls
        no AWS API; it installs the modules and providers, from the mirrors when they are set.
        It runs only when the static checks pass.
        """
        from .validate import Status, summary, validate_tree

        findings = validate_tree(self.settings.org, self.settings.app, self.target, self.settings.out)
        if terraform and not any(f.status is Status.FAIL for f in findings):
            findings += [self._terraform_validate(root) for root in self.roots()]
        self.record.validation = summary(findings)
        self.save()
        return findings

    def _terraform_validate(self, root: RootModule):
        from .validate import Finding, Status

        self.sink(f"[{root.name}] terraform init -backend=false, then terraform validate")
        data_dir = private_dir(self.settings.out.resolve() / root.path) / "validate"   # not the apply's .terraform/
        quiet = self._terraform(root, sink=lambda _line: None, env={"TF_DATA_DIR": str(data_dir)})
        try:
            quiet.init(backend=False)
            quiet.validate()
        except TerraformError as exc:
            return Finding("terraform validate", root.name, Status.FAIL, str(exc))
        return Finding("terraform validate", root.name, Status.PASS,
                       "terraform init -backend=false and terraform validate passed")

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
    def _terraform(self, root: RootModule, *, sink: Sink | None = None, env: dict[str, str] | None = None,
                   cancel: threading.Event | None = None) -> Terraform:
        """Terraform for one root, refused while a rendered folder holds a file the runbook did not render."""
        from .validate import check_unrendered

        _stop_on_failures(check_unrendered(self.settings.out,
                                           render_files(self.settings.org, self.settings.app, self.target)))
        return Terraform(self.settings.out / root.path, root=root.name, env={**self.target.terraform_env(), **(env or {})},
                         sink=sink or self.sink, timeout=self.settings.timeout, cancel=cancel)

    def run_root(self, root: RootModule | str, *, destroy: bool = False, show_version: bool = False) -> RootResult:
        """init, plan, summary, gate; then apply (or destroy) the saved plan and read the outputs.

        Returns every outcome as a :class:`RootResult`: applied, no changes, awaiting approval
        (the plan is kept for :meth:`apply_plan`), stopped by the gate, or failed.
        Raises :class:`Interrupted` on SIGINT/SIGTERM, after Terraform stopped.
        """
        attempt = _Attempt(self, self.root(root) if isinstance(root, str) else root)

        def work() -> RootResult:
            self._unless_stopping(attempt)
            tf = self._terraform(attempt.root)
            if show_version:
                self.sink(f"[{attempt.root.name}] terraform {tf.version()}")
            tf.init()
            return self._plan_and_apply(attempt, tf, destroy)
        return self._guarded(attempt, work)

    def _guarded(self, attempt: _Attempt, work: Callable[[], RootResult]) -> RootResult:
        """``work()`` for one root; a failure becomes its result, Ctrl-C becomes :class:`Interrupted`."""
        try:
            return work()
        except RunbookError as exc:
            return attempt.result(Outcome.FAILED, str(exc))
        except KeyboardInterrupt:
            lock = self._lock_after_stop(attempt.root) if attempt.step != "init" else "it held no state lock yet"
            raise Interrupted(attempt.result(Outcome.INTERRUPTED, f"interrupted during {attempt.step}; {lock}"),
                              lock) from None

    def _lock_after_stop(self, root: RootModule) -> str:
        """What became of ``root``'s state lock once Terraform was stopped, read from the state bucket (not assumed)."""
        import json

        from botocore.exceptions import BotoCoreError, ClientError

        org = self.settings.org
        try:
            s3 = self.clients.client("s3", org.accounts.operations.id)
            body = s3.get_object(Bucket=org.state_bucket, Key=root.lock_key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return "its state lock is released"
            return (f"whether its state lock is released could not be read ({exc}); if the next run reports a "
                    "lock, it prints the `runbook unlock` command that releases it")
        except (BotoCoreError, RunbookError, OSError) as exc:
            return (f"whether its state lock is released could not be read ({exc}); if the next run reports a "
                    "lock, it prints the `runbook unlock` command that releases it")
        try:
            lock_id = str(json.loads(body).get("ID", ""))
        except (ValueError, AttributeError):
            lock_id = ""
        if not LOCK_ID.match(lock_id):
            return (f"its state lock is still held ({org.state_bucket}/{root.lock_key}, with no lock "
                    "ID the runbook can read); see the README, 'unlock a state'")
        return (f"its state lock is STILL HELD: once nothing else works on {root.name}, run "
                f"`runbook unlock {root.name} {lock_id}`")

    def _apply_ahead(self, ahead: _Ahead) -> RootResult:
        """Gate and apply a root that was planned beside the roots before it."""
        def work() -> RootResult:
            ahead.its_turn()
            tf = ahead.planned()
            ahead.finished = True
            return self._after_plan(ahead.attempt, tf, destroy=False)
        return self._guarded(ahead.attempt, work)

    def apply_plan(self, plan: PlanSummary) -> RootResult:
        """A person approved ``plan`` (the Approve button): apply exactly that saved plan."""
        attempt = _Attempt(self, self.root(plan.root))
        attempt.plan, attempt.step = plan, "approve"
        try:
            approved = approve(plan, allow_destroy=self.settings.allow_destroy, confirm=lambda _plan: True)
        except ApprovalError as exc:   # deletes still stop here unless allowed for this run
            return attempt.result(Outcome.STOPPED, str(exc))

        def work() -> RootResult:
            self._unless_stopping(attempt)
            return self._apply(attempt, self._terraform(attempt.root), approved, destroy=False)
        return self._guarded(attempt, work)

    def _plan_and_apply(self, attempt: _Attempt, tf: Terraform, destroy: bool) -> RootResult:
        """plan, summary, gate, then apply (or destroy) the saved plan; the plan is never kept unless it awaits a person."""
        attempt.step = "plan"
        attempt.plan = tf.plan(destroy=destroy)
        return self._after_plan(attempt, tf, destroy)

    def _after_plan(self, attempt: _Attempt, tf: Terraform, destroy: bool) -> RootResult:
        """Show the plan's summary, then the gate, then apply (or destroy) exactly that saved plan."""
        assert attempt.plan is not None
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

    def _adopt(self, attempt: _Attempt, tf: Terraform, failure: TerraformError) -> bool:
        """After an apply that met resources already in AWS but not in the state: write import blocks for them.

        True when every such resource got an import block (the caller plans again, and the
        new plan goes through the gate like any other); False leaves the failure, whose
        message says how to import or delete them by hand.
        """
        found = leftovers(failure.stderr)
        # Each round can bring new ones (what depends on an import is only tried once it is in),
        # never the same one twice.
        repeated = {x.address for x in found} & set(attempt.imported)
        text = import_file_text(found, self._account_of, self.settings.org.region) if found and not repeated else None
        if text is None or len(attempt.imported) + len(found) > MAX_IMPORTS:
            return False
        path = tf.workdir / IMPORTS_FILE
        path.write_text(text)
        attempt.imported += [x.address for x in found]
        self.sink(f"[{attempt.root.name}] {len(found)} resource(s) already exist in AWS but not in the state of "
                  f"{attempt.root.name}: an earlier apply was stopped after AWS created them and before Terraform "
                  f"recorded them, or the AWS SDK retried a create whose answer it lost. Importing them instead of "
                  f"creating them again, with these blocks in {path}:")
        for line in text.splitlines():
            if line and not line.startswith("#"):
                self.sink(f"[{attempt.root.name}]   {line}")
        self.sink(f"[{attempt.root.name}] planning again: the plan shows the imports and goes through the "
                  "approval gate like any other")
        return True

    def _account_of(self, address: str) -> str:
        """The AWS account of the resource at ``address``: a cluster's deploy role lives in its Workload account."""
        org = self.settings.org
        module = re.match(r"module\.([A-Za-z0-9_-]+)", address)
        in_workload = {dt.module_name: dt.account_id for dt in deploy_targets(org)}
        return in_workload.get(module.group(1) if module else "", org.accounts.operations.id)

    @staticmethod
    def _unless_stopping(attempt: _Attempt) -> None:
        if stop_requested():
            raise KeyboardInterrupt  # handled like Ctrl-C: recorded as interrupted, nothing more starts

    def _apply(self, attempt: _Attempt, tf: Terraform, approved, destroy: bool) -> RootResult:
        attempt.step = "destroy" if destroy else "apply"
        try:
            tf.apply(approved)
        except TerraformError as exc:
            if destroy or not self._adopt(attempt, tf, exc):
                raise
            return self._plan_and_apply(attempt, tf, destroy=False)
        attempt.step = "output"
        outputs = {} if destroy else tf.output()
        reason = (f"{IMPORTED_REASON} {len(attempt.imported)} resource(s) that existed in AWS but not in the state "
                  f"(left by an interrupted apply, or created by a call the AWS SDK retried): "
                  f"{', '.join(attempt.imported)}") if attempt.imported else ""
        return attempt.result(Outcome.DESTROYED if destroy else Outcome.APPLIED, reason, outputs=outputs)

    def _run_roots(self, roots: list[RootModule], *, destroy: bool) -> list[RootResult]:
        """Each root in turn; when applying, the roots after the common root are planned side by side
        as soon as it is done, then approved and applied one by one in order."""
        verb = "destroy" if destroy else "apply"
        done: list[RootResult] = []
        ahead: dict[str, _Ahead] = {}
        try:
            for number, root in enumerate(roots, start=1):
                self.sink(f"== step {number}/{len(roots)}: {verb} {root.name}")
                try:
                    result = (self._apply_ahead(ahead[root.name]) if root.name in ahead
                              else self.run_root(root, destroy=destroy, show_version=number == 1))
                except Interrupted as exc:
                    done.append(exc.result)
                    raise RunStopped(f"{verb} interrupted at step {number}/{len(roots)} ({exc.result.step} {root.name}); "
                                     f"Terraform was stopped, and {exc.lock}", done, interrupted=True) from None
                done.append(result)
                if result.outcome not in DONE:
                    raise RunStopped(f"{verb} stopped at step {number}/{len(roots)} ({result.step} {root.name}): "
                                     f"{result.outcome.value}\n{result.reason}", done)
                if not destroy and root.name == COMMON_ROOT and roots[number:]:
                    later = roots[number:]
                    self.sink(f"planning {', '.join(r.name for r in later)} side by side: they read {COMMON_ROOT}, "
                              "which is in place now, and not each other")
                    ahead = {r.name: _Ahead(self, r) for r in later}
        finally:
            for early in ahead.values():
                early.abandon()
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

    def complete_handshake(self):
        """The sandbox's stand-in for the console handshake: the org's connection becomes AVAILABLE.

        Sandbox only: on live a person completes the handshake in the AWS console.
        """
        if self.settings.target != Target.sandbox.value:
            raise RunbookError("completing the handshake is the sandbox's stand-in for a console step; on "
                               f"{self.settings.target} complete it in the AWS console. Nothing was changed.")
        from .sandbox.console import complete_handshake

        org = self.settings.org
        done = complete_handshake(org.accounts.operations.id, org.region, org.codestar_connection_name)
        self.record.connection = done.status
        self.save()
        return done

    def common_prerequisites(self) -> CheckReport:
        """Is the common root applied in this target? (What the CI and CD roots read from it is there.)"""
        from .checks.postflight import common_prerequisites

        return CheckReport("common root applied", tuple(common_prerequisites(self._context())))

    def connection(self):
        """The CodeStar connection's status, read once."""
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

    # -- the first pull request and the first merge ------------------------------------
    def pipeline_live_steps(self) -> list[str]:
        """On live the runbook pushes nothing: the git commands that put the image buildspec in place."""
        from .pipeline import live_steps

        self.render(force=False)
        return live_steps(self._app("the first pull request"), self.settings.out)

    def pipeline(self, action: str, *, limit: float, progress: Sink | None = None, source_version: str | None = None):
        """The first pull request's build (``pull-request``) or the first stage's pipeline (``merge``), followed to its end.

        Sandbox: renders first (hand edits are refused as everywhere), commits the rendered buildspecs to
        the sandbox's repositories and delivers the event, as GitHub would. Live: the runbook pushes
        nothing; it starts what a person would (StartBuild of the image project for ``source_version``,
        or StartPipelineExecution of the stage's pipeline), only with approval given for this run
        (``auto_approve=True``), as for an apply. Returns a :class:`~runbook_lib.pipeline.PipelineRun`.
        """
        from . import pipeline
        from .resolved import resolve

        app = self._app("the first pull request")
        if action not in ("pull-request", "merge"):
            raise RunbookError(f"{action!r} is not a pipeline action; choose pull-request or merge")
        if limit <= 0:
            raise RunbookError(f"--limit {limit:g}: must be a number of seconds above 0")
        account = self.settings.org.accounts.operations.id
        say = progress or self.sink
        if self.settings.target == Target.live.value:
            what = (f"StartBuild of the image project for {source_version}" if action == "pull-request"
                    else "StartPipelineExecution of the " + (self.settings.stage or app.stages[0].name) + " pipeline")
            if action == "pull-request" and not source_version:
                raise RunbookError("on live, name what to build: --source-version pr/N (the pull request), a branch or "
                                   "a commit (`runbook pipeline pull-request --target live` without it prints the git "
                                   "steps that open the pull request). Nothing was started.")
            if not self.settings.unattended:
                raise RunbookError(f"{what} on live needs approval given for this run: --auto-approve "
                                   "(auto_approve=True). Nothing was started.")
            resolved = resolve(self.settings.org, app)
            if action == "merge":
                return pipeline.start_pipeline(resolved, self.settings.stage, self.clients, account, limit=limit,
                                               progress=say)
            return pipeline.start_build(resolved, source_version, self.clients, account, limit=limit, progress=say)
        if source_version:
            raise RunbookError(f"--source-version {source_version!r} is for live: in the sandbox the runbook opens "
                               "the pull request itself. Nothing was started.")
        from .sandbox import server

        running = server.status()
        if running is None:   # before anything is written
            raise RunbookError("the sandbox is not running: start it and apply the application first "
                               "(runbook apply --app ... --target sandbox, or notebooks 01-03)")
        self.render(force=False)
        if action == "merge":
            return pipeline.run_merge(resolve(self.settings.org, app), self.settings.out, server.state_dir(),
                                      running.url, self.clients, account, limit=limit, progress=say,
                                      stage_name=self.settings.stage)
        return pipeline.run_pull_request(app, self.settings.out, server.state_dir(), running.url, self.clients,
                                         account, limit=limit, progress=say)

    def _app(self, what: str) -> App:
        if self.settings.app is None:
            raise RunbookError(f"{what} needs an application (--app, or app_file in the notebook)")
        return self.settings.app
