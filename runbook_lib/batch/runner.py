"""``runbook run``: the notebooks, through papermill, for the common resources once and then each application.

Everything is checked before anything runs or is written: the parameters, apps
listed twice, the stage, the output folder, and each notebook's ``parameters``
cell (the parameters a notebook gets are the ones it declares there, read with
papermill). The run folder (``runs/<timestamp>/`` by default) is built under a
``.partial`` name and renamed when the run ends, so a folder without that suffix
is always complete; an interrupted run stays ``.partial`` with a summary that
says so.

Each notebook writes its job's record through the engine; the runner reads the
records back as :class:`~runbook_lib.results.Record`, and ``summary.json``, the
report and the exit code all judge health with the same rule.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..errors import ParameterError, ParameterIssue, RunbookError
from ..parameters import load_apps, load_org
from ..project import project_root
from ..results import Record
from .executors import EXECUTORS, Executor, LocalProcessExecutor
from .jobs import Job, JobResult, NotebookStep
from .kernels import DEFAULT_NOTEBOOK_TIMEOUT, NotebookTimeout, run_notebook
from .processes import Interrupts

COMMON_NOTEBOOKS = ("00-prerequisites-and-preflight", "01-common-resources")
APP_NOTEBOOKS = ("02-continuous-integration", "03-continuous-deployment", "04-verify-and-operate")
# What the runner must be able to pass: without these a notebook cannot take part in a batch.
REQUIRED_PARAMETERS = {"org_file", "target", "out_dir", "record_file"}
# The kernel's own log, errors only: otherwise every kernel prints ipykernel's warning
# about its local TCP transport into the progress lines.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class BatchError(RunbookError):
    """A batch run could not start; nothing was run or written."""


@dataclass(frozen=True)
class BatchPlan:
    common: Job
    apps: list[Job]
    run_dir: Path
    models: dict        # job label -> (org, app or None), for the report's pictures


def _resolve_apps(root: Path, apps: list[str]) -> list[Path]:
    paths: list[Path] = []
    for entry in apps:
        path = Path(entry)
        path = path if path.is_absolute() else root / path
        paths += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return paths


def declared_parameters(notebook: Path, needed: set[str]) -> set[str]:
    """The names the notebook's ``parameters`` cell declares (read by papermill); refuse one that lacks ``needed``."""
    import papermill

    if not notebook.is_file():
        raise BatchError(f"{notebook}: the notebook does not exist")
    try:
        declared = set(papermill.inspect_notebook(str(notebook)))
    except Exception as exc:  # papermill reports unreadable notebooks with several error types
        raise BatchError(f"{notebook}: cannot be read as a notebook ({type(exc).__name__}: {exc})") from exc
    if not declared:
        raise BatchError(f"{notebook}: has no cell tagged 'parameters', so a batch run cannot give it "
                         f"{', '.join(sorted(needed))}; tag the cell that sets them 'parameters'.")
    missing = needed - declared
    if missing:
        raise BatchError(f"{notebook}: its 'parameters' cell does not declare {', '.join(sorted(missing))}, "
                         "which a batch run must pass.")
    return declared


def _declared_by_notebook(root: Path) -> dict[str, set[str]]:
    """Each notebook's declared parameters, read once per run (the app notebooks must also take app_file)."""
    return {name: declared_parameters(root / "notebooks" / f"{name}.ipynb",
                                      REQUIRED_PARAMETERS | ({"app_file"} if name in APP_NOTEBOOKS else set()))
            for name in COMMON_NOTEBOOKS + APP_NOTEBOOKS}


def _job(root: Path, label: str, names: tuple[str, ...], values: dict, partial: Path,
         declared: dict[str, set[str]], notebook_timeout: float) -> Job:
    folder = partial / label
    values = {**values, "out_dir": str(partial / "work" / label), "record_file": str(folder / "record.json")}
    notebooks = tuple((name, {k: v for k, v in values.items() if k in declared[name] and v is not None})
                      for name in names)
    return Job(label, notebooks, str(folder), values["record_file"], str(root), notebook_timeout=notebook_timeout)


def plan_batch(org_file: str, apps: list[str], stage: str | None, target: str, out: str | None,
               auto_approve: bool = False, notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT) -> BatchPlan:
    """Check every input and build the jobs; raise with every problem, create nothing but the base folder."""
    if not notebook_timeout > 0 or notebook_timeout == float("inf"):
        raise BatchError(f"--notebook-timeout {notebook_timeout:g} must be a number of seconds above 0")
    root = project_root()
    org_path = root / org_file
    org = load_org(org_path, label=org_file)
    paths = _resolve_apps(root, apps)
    if not paths:
        raise BatchError(f"--apps {' '.join(apps)} names no application parameters files (*.yaml).")
    seen: set[Path] = set()
    issues: list[ParameterIssue] = []
    for path in paths:
        if path.resolve() in seen:
            issues.append(ParameterIssue(str(path), "", path.name, "is listed twice in --apps (directly or through a folder)"))
        seen.add(path.resolve())
    if issues:
        raise ParameterError(issues)
    loaded = load_apps(paths, org, org_file)
    if stage:
        missing = [f"{p}: stages = {[s.name for s in a.stages]}" for p, a in zip(paths, loaded)
                   if stage not in {s.name for s in a.stages}]
        if missing:
            raise BatchError(f"--stage {stage!r} is not a stage of every application:\n  " + "\n  ".join(missing))
    base = Path(out) if out else root / "runs"
    base = base if base.is_absolute() else root / base
    run_dir = base / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    partial = Path(str(run_dir) + ".partial")
    # auto_approve goes only where the caller gave it for this run: never a default to inherit
    common = {"org_file": _in_project(root, org_path), "target": target, "interactive": False,
              "auto_approve": True if auto_approve else None}
    declared = _declared_by_notebook(root)
    common_job = _job(root, "common", COMMON_NOTEBOOKS, common, partial, declared, notebook_timeout)
    app_jobs = [_job(root, app.name, APP_NOTEBOOKS, {**common, "app_file": _in_project(root, path), "stage": stage}, partial,
                     declared, notebook_timeout)
                for path, app in zip(paths, loaded)]
    _require_writable(base)
    if run_dir.exists() or partial.exists():
        raise BatchError(f"{run_dir} already exists (a run started in this same second?); wait a second and run again.")
    models = {"common": (org, None), **{app.name: (org, app) for app in loaded}}
    return BatchPlan(common_job, app_jobs, run_dir, models)


def _in_project(root: Path, path: Path) -> str:
    """A parameters file as the notebooks get it: relative to the project folder when inside it (records name it so)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _require_writable(base: Path) -> None:
    probe_dir = base
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir() or not os.access(probe_dir, os.W_OK | os.X_OK):
        raise BatchError(f"the output folder {base} cannot be created or written ({probe_dir} is not writable); "
                         "choose another with --out.")
    try:
        base.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=base):
            pass
    except OSError as exc:
        raise BatchError(f"the output folder {base} is not writable: {exc.strerror}; choose another with --out.") from exc


def execute_job(job: Job, report: Callable[[str], None] | None = None,
                before_notebook: Callable[[str], None] | None = None) -> JobResult:
    """Run one job's notebooks in order with papermill; stop at the first failure or when the run is stopping.

    Runs in a worker (or in the parent for the common job). ``report`` gets a line when
    the job starts, after each notebook and when the job ends; ``before_notebook`` is
    called with each notebook's name just before it starts.
    """
    report = report or (lambda _line: None)
    result = JobResult(job.label)
    folder = Path(job.folder)
    folder.mkdir(parents=True, exist_ok=True)
    job_started = time.monotonic()
    report(f"[{job.label}] started: {', '.join(name for name, _ in job.notebooks)}")
    for name, params in job.notebooks:
        if job.stopping():
            result.interrupted = True
            break
        if before_notebook:
            before_notebook(name)
        source = Path(job.root) / "notebooks" / f"{name}.ipynb"
        executed = folder / f"{name}.ipynb"
        started = time.monotonic()
        step = NotebookStep(name, "ok", 0.0, str(executed))
        try:
            run_notebook(source, executed, params, job.root, env=dict(job.kernel_env), timeout=job.notebook_timeout,
                         kernel_arguments=KERNEL_ARGUMENTS, report=lambda line: report(f"[{job.label}] {line}"))
        except NotebookTimeout as exc:
            step.status, step.error = "timeout", str(exc)
        except Exception as exc:  # papermill raises its own execution error; any failure ends this job
            message = getattr(exc, "evalue", None) or "".join(traceback.format_exception_only(type(exc), exc)).strip()
            step.status = "interrupted" if job.stopping() else "failed"
            step.error = str(message)[:2000]
        step.seconds = round(time.monotonic() - started, 1)
        result.steps.append(step)
        line = f"[{job.label}] {name}: {step.status} ({step.seconds} s)"
        if step.status != "ok":
            line += f" - {step.error.splitlines()[0] if step.error else ''}"
        report(line)
        if step.status != "ok":
            result.interrupted = step.status == "interrupted"
            break
    if Path(job.record_file).is_file():
        try:
            result.record = Record.load(Path(job.record_file))
        except RunbookError as exc:
            result.error = str(exc)
    report(f"[{job.label}] {'done' if result.healthy else 'NOT healthy'} in {time.monotonic() - job_started:.0f} s")
    return result


def make_executor(name: str, jobs: int | None = None, scheduler: str | None = None, *,
                  allow_plaintext_scheduler: bool = False) -> Executor:
    """The executor called ``name`` (``local`` or ``dask``); refuse an unknown name or a bad ``--jobs``,
    and a scheduler elsewhere without TLS unless the person allowed it for this run."""
    if jobs is not None and jobs < 1:
        raise BatchError(f"--jobs {jobs} must be 1 or more")
    if name == "local":
        if scheduler:
            raise BatchError("--scheduler is for --executor dask; the local process pool has no scheduler")
        return LocalProcessExecutor(jobs or 1)
    if name == "dask":
        from ..sandbox.server import SANDBOX_DIR_ENV, state_dir
        from .cluster import SCHEDULER_ENV, DaskExecutor, plaintext_risk

        address = scheduler or os.environ.get(SCHEDULER_ENV)
        risk = plaintext_risk(address) if address else None   # no address at all: DaskExecutor says what to give
        if risk and not allow_plaintext_scheduler:
            raise BatchError(risk)

        # a sandbox run's workers share this machine's sandbox (it answers on loopback only)
        return DaskExecutor(scheduler, jobs, env={SANDBOX_DIR_ENV: str(state_dir().resolve())})
    raise BatchError(f"--executor {name!r} is not an executor; choose one of: {', '.join(EXECUTORS)}")


def run_batch(org_file: str, apps: list[str], *, stage: str | None = None, target: str = "sandbox",
              jobs: int | None = None, out: str | None = None, auto_approve: bool = False,
              executor: str | Executor = "local", scheduler: str | None = None,
              allow_plaintext_scheduler: bool = False, notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
              progress: Callable[[str], None] = print) -> tuple[Path, list[JobResult], bool]:
    """Run the batch; return (run folder, job results, interrupted).

    Every input, the executor included (a Dask scheduler must answer, and each of its
    workers must have the package and Terraform), is checked before the run folder
    is created.

    SIGINT or SIGTERM: no new notebook starts, running kernels are interrupted (each stops
    its Terraform with SIGINT, which releases the state lock), the run folder stays
    ``.partial`` with a summary saying it was interrupted, and a sandbox the run started
    is stopped. A second signal stops what is left at once.
    """
    if isinstance(executor, str):
        executor = make_executor(executor, jobs, scheduler, allow_plaintext_scheduler=allow_plaintext_scheduler)
    elif jobs is not None and jobs < 1:
        raise BatchError(f"--jobs {jobs} must be 1 or more")
    plan = plan_batch(org_file, apps, stage, target, out, auto_approve, notebook_timeout)
    executor.start()
    try:
        return _run(plan, executor, target, progress)
    finally:
        executor.close()


def _run(plan: BatchPlan, executor: Executor, target: str, progress: Callable[[str], None]):
    partial = Path(str(plan.run_dir) + ".partial")
    partial.mkdir(parents=True)
    started = time.monotonic()
    started_sandbox = False
    results: list[JobResult] = []
    fn = execute_job
    with executor.lines(progress) as report, Interrupts(partial / ".stop", progress, executor.stop) as interrupts:
        try:
            if target == "sandbox":
                from ..sandbox import server

                started_sandbox = server.status() is None
                running = server.start()
                progress(f"sandbox at {running.url}" + (" (started for this run)" if started_sandbox else ""))
            width = getattr(executor, "workers", None) or getattr(executor, "jobs", None)
            progress(f"run folder {partial} ({len(plan.apps)} application(s), {executor.name} executor"
                     + (f", {width} job(s) at a time" if width else "") + ")")
            results.append(execute_job(plan.common, report=progress))
            if not results[0].healthy:
                progress("common resources are not healthy: the applications were not run")
            elif not interrupts.stopped:
                for job, result, error in executor.run(functools.partial(fn, report=report), plan.apps):
                    results.append(result if error is None else
                                   JobResult(job.label, error=f"the worker running {job.label} failed: {error}",
                                             interrupted=interrupts.stopped))
        finally:
            interrupts.settle()
            if started_sandbox:
                from ..sandbox import server

                server.stop()  # the sandbox's resources go with it; KEEP a sandbox by starting it before the run
    interrupted = interrupts.stopped
    order = [plan.common.label] + [job.label for job in plan.apps]
    results.sort(key=lambda r: order.index(r.label))   # summary and report in --apps order, whatever finished first
    from ..diagram import svg
    from .report import write_report

    diagrams = {label: svg(org, app) for label, (org, app) in plan.models.items()}
    write_report(partial, results, plan.run_dir.name, diagrams, interrupted=interrupted)
    run_dir = partial if interrupted else partial.rename(plan.run_dir)
    progress(f"{'interrupted' if interrupted else 'finished'} after {time.monotonic() - started:.0f} s")
    return run_dir, results, interrupted
