"""Where the project is: the folder holding ``parameters/``, for every surface and the batch runner."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT_ENV = "RUNBOOK_PROJECT_ROOT"


def project_root(start: Path | None = None) -> Path:
    """The folder holding ``parameters/``: from $RUNBOOK_PROJECT_ROOT, else searched upward from ``start`` or the cwd."""
    if os.environ.get(PROJECT_ROOT_ENV):
        return Path(os.environ[PROJECT_ROOT_ENV]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "parameters" / "org.yaml").is_file():
            return folder
    return here
