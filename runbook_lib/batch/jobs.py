"""A batch run's units of work and what each one returned, as types the summary, report and exit code share."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..engine import STOP_FILE_ENV, stop_requested
from ..results import SCHEMA_VERSION, Record
from .kernels import DEFAULT_NOTEBOOK_TIMEOUT


@dataclass(frozen=True)
class Job:
    label: str                                   # "common" or the app name
    notebooks: tuple[tuple[str, dict], ...]      # (notebook name, the parameters it declares and gets)
    folder: str                                  # where the executed notebooks go
    record_file: str                             # the job's record, written by its notebooks through the engine
    root: str                                    # project root (papermill's cwd)
    notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT   # wall limit of each notebook, in seconds
    kernel_env: tuple[tuple[str, str], ...] = ()         # added to each kernel's environment

    def stopping(self) -> bool:
        """Whether the run is stopping: the job's own stop file (a remote job), else the run's."""
        own = dict(self.kernel_env).get(STOP_FILE_ENV)
        return os.path.exists(own) if own else stop_requested()


@dataclass
class NotebookStep:
    notebook: str
    status: str            # ok, failed, timeout, interrupted
    seconds: float
    path: str              # the executed notebook
    error: str = ""


@dataclass
class JobResult:
    label: str
    steps: list[NotebookStep] = field(default_factory=list)
    record: Record | None = None
    error: str = ""        # the job itself failed: a crashed worker, an unreadable record
    interrupted: bool = False

    def problems(self) -> list[str]:
        """Why this job is not healthy; empty when it is. One rule for summary, report and exit code."""
        found = [f"{s.notebook}: {s.status}" + (f" ({s.error.splitlines()[0]})" if s.error else "")
                 for s in self.steps if s.status != "ok"]
        if self.error:
            found.append(self.error)
        if self.interrupted and not self.steps:
            found.append("not started: the run was interrupted")
        if self.record is not None:
            found += self.record.problems()
        elif not found:
            found.append("no record was written")
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems()

    @property
    def changed(self) -> bool:
        return self.record is not None and any(r.changed for r in self.record.roots.values())

    def to_dict(self) -> dict:
        return {"label": self.label, "healthy": self.healthy, "problems": self.problems(),
                "interrupted": self.interrupted, "error": self.error,
                "steps": [vars(s) for s in self.steps],
                "record": self.record.to_dict() if self.record else None}


def summary(results: list[JobResult], *, interrupted: bool = False) -> dict:
    """``summary.json``: healthy only when every job is."""
    return {"schema_version": SCHEMA_VERSION, "healthy": not interrupted and all(r.healthy for r in results),
            "interrupted": interrupted, "jobs": [r.to_dict() for r in results]}
