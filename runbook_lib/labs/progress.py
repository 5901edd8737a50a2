"""A trainee's progress: the open lab (if any) and every lab finished, in one small JSON file.

The file is ``OUT/labs/progress.json`` (OUT is the --out folder the suite was applied
with), written atomically: a reader sees the old file or the new one. It holds no
secret: resource names and identities, hint counts and times.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..render.files import write_text_atomically
from .context import LabError

VERSION = 1


def progress_file(out: str | Path) -> Path:
    return Path(out) / "labs" / "progress.json"


def report_file(out: str | Path) -> Path:
    return Path(out) / "labs" / "report.html"


def _trainee() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no login name and no passwd entry (some containers)
        return "trainee"


@dataclass
class OpenLab:
    lab: str
    started: float                 # epoch seconds
    details: dict                  # what the injector changed
    names: dict                    # the names the lab's texts were filled with
    reveals: list[str]             # check ids that FAIL while the fault is there
    baseline: dict                 # identities.snapshot() before the fault
    hints: int = 0
    checks: int = 0                # how often the trainee asked for a grade


@dataclass
class Finished:
    lab: str
    outcome: str                   # "passed" or "reset"
    hints: int
    seconds: float
    checks: int
    finished: float                # epoch seconds
    names: dict = field(default_factory=dict)   # the open lab's names, for the report's account of the fault


@dataclass
class Progress:
    trainee: str = field(default_factory=_trainee)
    open: OpenLab | None = None
    finished: list[Finished] = field(default_factory=list)

    def passed(self) -> set[str]:
        return {f.lab for f in self.finished if f.outcome == "passed"}


def load(out: str | Path) -> Progress:
    path = progress_file(out)
    if not path.is_file():
        return Progress()
    try:
        data = json.loads(path.read_text())
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
        return Progress(data["trainee"], OpenLab(**data["open"]) if data["open"] else None,
                        [Finished(**f) for f in data["finished"]])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LabError(f"{path}: not a progress file the labs wrote ({exc}); move it away to start afresh. "
                       "Nothing was changed.") from None


def save(out: str | Path, progress: Progress) -> Path:
    path = progress_file(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": VERSION, **asdict(progress)}
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
