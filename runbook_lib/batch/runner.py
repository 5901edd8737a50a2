"""``runbook run``: the notebooks, through papermill, for the common resources once and then each application.

Everything is checked before anything runs or is written: the parameters, apps
listed twice, the stage, the output folder. The run folder
(``runs/<timestamp>/`` by default) is built under a ``.partial`` name and
renamed when the run ends, so a folder without that suffix is always complete.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..errors import ParameterError, ParameterIssue, RunbookError
from ..notebook import project_root
from ..parameters import load_apps, load_org
from .executors import Executor, LocalProcessExecutor

COMMON_NOTEBOOKS = ("00-prerequisites-and-preflight", "01-common-resources")
APP_NOTEBOOKS = ("02-continuous-integration", "03-continuous-deployment", "04-verify-and-operate")
# The kernel's own log, errors only: otherwise every kernel prints ipykernel's warning
# about its local TCP transport into the progress lines.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class BatchError(RunbookError):
    """A batch run could not start; nothing was run or written."""


@dataclass(frozen=True)
class Job:
    label: str                 # "common" or the app name
    notebooks: tuple[str, ...]
    parameters: dict
    folder: str                # where the executed notebooks and the record go
    root: str                  # project root (for papermill's cwd)


@dataclass
class JobResult:
    label: str
    steps: list[dict] = field(default_factory=list)   # {notebook, status, seconds, error, path}
    record: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(s["status"] == "ok" for s in self.steps)


def _resolve_apps(root: Path, apps: list[str]) -> list[Path]:
    paths: list[Path] = []
    for entry in apps:
        path = Path(entry)
        path = path if path.is_absolute() else root / path
        paths += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return paths


def plan_batch(org_file: str, apps: list[str], stage: str | None, target: str, out: str | None,
               auto_approve: bool = False) -> tuple[list[Job], Job, Path]:
    """Check every input and build the jobs; raise with every problem, create nothing."""
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
    _require_writable(base)
    run_dir = base / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    common = {"org_file": str(org_path), "target": target, "interactive": False}
    if auto_approve:
        common["auto_approve"] = True
    partial = Path(str(run_dir) + ".partial")
    common_job = Job("common", COMMON_NOTEBOOKS, {**common, "out_dir": str(partial / "work" / "common"),
                                                  "record_file": str(partial / "common" / "record.json")},
                     str(partial / "common"), str(root))
    app_jobs = [
        Job(app.name, APP_NOTEBOOKS,
            {**common, "app_file": str(path), "stage": stage, "out_dir": str(partial / "work" / app.name),
             "record_file": str(partial / app.name / "record.json")},
            str(partial / app.name), str(root))
        for path, app in zip(paths, loaded)
    ]
    return app_jobs, common_job, run_dir


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


def execute_job(job: Job, report: Callable[[str], None] | None = None) -> JobResult:
    """Run one job's notebooks in order with papermill; stop at the first failure. Runs in a worker.

    ``report`` gets a line when the job starts, after each notebook and when the job ends.
    """
    import papermill

    report = report or (lambda _line: None)
    result = JobResult(job.label)
    folder = Path(job.folder)
    folder.mkdir(parents=True, exist_ok=True)
    job_started = time.monotonic()
    report(f"[{job.label}] started: {', '.join(job.notebooks)}")
    for name in job.notebooks:
        source = Path(job.root) / "notebooks" / f"{name}.ipynb"
        executed = folder / f"{name}.ipynb"
        params = {k: v for k, v in job.parameters.items() if v is not None}
        if name in COMMON_NOTEBOOKS:
            params.pop("app_file", None)
            params.pop("stage", None)
        if name == "00-prerequisites-and-preflight":
            params.pop("auto_approve", None)
        started = time.monotonic()
        step = {"notebook": name, "status": "ok", "path": str(executed)}
        try:
            papermill.execute_notebook(str(source), str(executed), parameters=params, cwd=job.root,
                                       progress_bar=False, log_output=False, kernel_name="python3",
                                       extra_arguments=KERNEL_ARGUMENTS)
        except Exception as exc:  # papermill raises its own execution error; any failure ends this job
            message = getattr(exc, "evalue", None) or "".join(traceback.format_exception_only(type(exc), exc)).strip()
            step.update(status="failed", error=str(message)[:2000])
        step["seconds"] = round(time.monotonic() - started, 1)
        result.steps.append(step)
        line = f"[{job.label}] {name}: {step['status']} ({step['seconds']} s)"
        if step["status"] != "ok":
            line += f" - {step['error'].splitlines()[0] if step['error'] else ''}"
        report(line)
        if step["status"] != "ok":
            break
    record = Path(job.parameters["record_file"])
    if record.is_file():
        result.record = json.loads(record.read_text())
    report(f"[{job.label}] {'done' if result.ok else 'FAILED'} in {time.monotonic() - job_started:.0f} s")
    return result


@contextmanager
def _lines_from_workers(progress: Callable[[str], None]):
    """A ``report`` callable that worker processes can use; their lines reach ``progress`` here, in order."""
    with multiprocessing.Manager() as manager:
        queue = manager.Queue()

        def drain() -> None:
            while (line := queue.get()) is not None:
                progress(line)
        thread = threading.Thread(target=drain, daemon=True)
        thread.start()
        try:
            yield queue.put
        finally:
            queue.put(None)
            thread.join()


def run_batch(org_file: str, apps: list[str], *, stage: str | None = None, target: str = "sandbox", jobs: int = 1,
              out: str | None = None, auto_approve: bool = False, executor: Executor | None = None,
              progress: Callable[[str], None] = print) -> tuple[Path, list[JobResult]]:
    app_jobs, common_job, run_dir = plan_batch(org_file, apps, stage, target, out, auto_approve)
    partial = Path(str(run_dir) + ".partial")
    partial.mkdir(parents=True)
    started = time.monotonic()
    started_sandbox = False
    if target == "sandbox":
        from ..sandbox import server

        started_sandbox = server.status() is None
        running = server.start()
        progress(f"sandbox at {running.url}" + (" (started for this run)" if started_sandbox else ""))
    progress(f"run folder {run_dir} ({len(app_jobs)} application(s), {jobs} job(s) at a time)")
    results = [execute_job(common_job, report=progress)]
    if results[0].ok:
        executor = executor or LocalProcessExecutor(jobs)
        with _lines_from_workers(progress) as report:
            results += executor.run(functools.partial(execute_job, report=report), app_jobs)
    else:
        progress("common resources failed: the applications were not run")
    from .report import write_report

    write_report(partial, results, run_dir.name)
    partial.rename(run_dir)
    if started_sandbox:
        server.stop()  # the sandbox's resources go with it; KEEP a sandbox by starting it before the run
    progress(f"finished in {time.monotonic() - started:.0f} s")
    return run_dir, results


def summary_dict(results: list[JobResult]) -> dict:
    return {"ok": all(r.ok for r in results), "jobs": [asdict(r) | {"ok": r.ok} for r in results]}
