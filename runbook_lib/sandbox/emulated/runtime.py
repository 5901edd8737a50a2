"""What the emulator's own runs (builds, pipeline executions) need to know: its folder, its address, its lock.

``serve.main`` fills it once before serving; it stays empty in a process that only imports moto
(then StartBuild and StartPipelineExecution answer that nothing runs here).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

settings: dict[str, Any] = {}


def configure(directory: str, url: str, lock: threading.Lock) -> None:
    """Where runs keep their files and how they reach the emulator; the lock guards every backend they change."""
    settings.update(directory=Path(directory), url=url, lock=lock)
