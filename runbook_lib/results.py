"""What the engine returns, and the record a job keeps of it: typed, versioned, read back the same way.

Every surface shows these and nothing else: the CLI prints them, notebook cells
and buttons display them, the batch runner reads a job's :class:`Record` back from
its JSON file and the report and ``summary.json`` are written from it. Whether a
job is healthy is decided once, by :meth:`Record.problems`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from .checks.result import CheckResult, Status
from .errors import RecordError
from .terraform.plan import PlanSummary

SCHEMA_VERSION = 2


class Outcome(str, Enum):
    APPLIED = "applied"
    NO_CHANGES = "no changes"
    DESTROYED = "destroyed"
    AWAITING_APPROVAL = "awaiting approval"
    STOPPED = "stopped"            # the gate refused: deletes not allowed, or a person said no
    FAILED = "failed"
    INTERRUPTED = "interrupted"    # SIGINT or SIGTERM while the root was being worked on


DONE = {Outcome.APPLIED, Outcome.NO_CHANGES, Outcome.DESTROYED}
WRITING_STEPS = {"apply", "destroy", "output"}   # output: right after an apply


@dataclass(frozen=True)
class RootResult:
    """One root module's run: how far it got and why it ended there."""

    root: str
    outcome: Outcome
    step: str                      # the last step reached: init, plan, approve, apply, destroy, output
    seconds: float = 0.0
    headline: str = ""             # the plan summary's one line
    outputs: dict = field(default_factory=dict)
    reason: str = ""               # why it stopped, failed or waits
    plan: PlanSummary | None = field(default=None, compare=False)   # kept in memory only

    @property
    def changed(self) -> bool:
        """True when AWS may have been changed: applied, or stopped inside apply or destroy."""
        return self.outcome in (Outcome.APPLIED, Outcome.DESTROYED) or (
            self.outcome in (Outcome.FAILED, Outcome.INTERRUPTED) and self.step in WRITING_STEPS)

    def to_dict(self) -> dict:
        return {"root": self.root, "outcome": self.outcome.value, "step": self.step, "seconds": round(self.seconds, 1),
                "headline": self.headline, "outputs": self.outputs, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict) -> RootResult:
        return cls(data["root"], Outcome(data["outcome"]), data["step"], data.get("seconds", 0.0),
                   data.get("headline", ""), data.get("outputs", {}), data.get("reason", ""))


@dataclass(frozen=True)
class CheckReport:
    title: str
    results: tuple[CheckResult, ...]

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        return {"title": self.title, "results": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, data: dict) -> CheckReport:
        return cls(data["title"], tuple(CheckResult(**{**row, "status": Status(row["status"])})
                                        for row in data["results"]))


@dataclass
class Record:
    """What one notebook session or batch job did: its parameters, validation, roots, checks."""

    parameters: dict = field(default_factory=dict)      # org, app, stage, target
    validation: str = ""
    roots: dict[str, RootResult] = field(default_factory=dict)
    checks: dict[str, CheckReport] = field(default_factory=dict)
    connection: str = ""

    def problems(self) -> list[str]:
        """Everything that makes this job not healthy, in words; empty when all is well."""
        found = [f"{r.root}: {r.outcome.value}" + (f" ({r.reason.splitlines()[0]})" if r.reason else "")
                 for r in self.roots.values() if r.outcome not in DONE]
        for report in self.checks.values():
            if report.failed:
                found.append(f"{report.title}: FAIL {', '.join(r.id for r in report.failed)}")
        return found

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "parameters": self.parameters, "validation": self.validation,
                "roots": [r.to_dict() for r in self.roots.values()],
                "checks": [c.to_dict() for c in self.checks.values()], "connection": self.connection}

    @classmethod
    def from_dict(cls, data: dict, source: str = "record") -> Record:
        version = data.get("schema_version", 1) if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise RecordError(f"{source}: schema_version = {version!r} is not the record format this runbook reads "
                              f"({SCHEMA_VERSION}); it was written by another version. Run the job again to rewrite it.")
        try:
            roots = [RootResult.from_dict(r) for r in data["roots"]]
            checks = [CheckReport.from_dict(c) for c in data["checks"]]
            return cls(dict(data["parameters"]), data.get("validation", ""), {r.root: r for r in roots},
                       {c.title: c for c in checks}, data.get("connection", ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"{source}: not a valid record ({type(exc).__name__}: {exc}); run the job again.") from exc

    def save(self, path: Path) -> None:
        """Write atomically: a reader never sees half a record."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".record-", suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            json.dump(self.to_dict(), out, indent=2, default=str)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Record:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise RecordError(f"{path}: cannot be read as a record ({exc})") from exc
        return cls.from_dict(data, source=str(path))
