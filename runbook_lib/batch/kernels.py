"""One notebook through papermill: its kernel's environment, a new kernel when the first cannot bind its ports, a time limit.

- Environment: a kernel gets this process's environment plus what the job adds (on
  a Dask worker: the job's own project folder, stop file and sandbox folder).
- Port clash: jupyter_client picks free ports and then the kernel binds them; under
  parallel runs another process can take one in between, and the kernel dies at start
  with "Address already in use". That is retried with a new kernel, only when no cell
  had started (papermill's own per-cell start times say so), so nothing runs twice.
- Time limit: every notebook has a wall limit. When it is reached the kernel gets
  SIGINT, as on Ctrl-C: the running cell stops, its Terraform command gets SIGINT and
  releases its state lock, and the notebook is reported ``timeout``. papermill's own
  cell timeout sits a little later, for a cell that ignores SIGINT.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from pathlib import Path

import nbformat

PORT_CLASH = "Address already in use"
START_ATTEMPTS = 3
DEFAULT_NOTEBOOK_TIMEOUT = 3600.0   # seconds; one notebook of the examples takes about 30 s in the sandbox
CELL_TIMEOUT_GRACE = 60.0           # papermill's cell timeout fires this much after the wall limit


class NotebookTimeout(Exception):
    """The notebook ran past its wall limit and was interrupted."""


class KernelStartFailed(Exception):
    """Every kernel started for the notebook died before running a cell."""


def _manager_class(env: dict[str, str], stderr, started: list):
    """A kernel manager class for one attempt: the job's environment, the kernel's stderr in ``stderr``."""
    from jupyter_client.manager import AsyncKernelManager

    class JobKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw["env"] = {**os.environ, **env}
            kw["stderr"] = stderr
            await self._async_start_kernel(**kw)
            started.append(self)

    return JobKernelManager


def _no_cell_started(executed: Path) -> bool:
    """True when papermill's output shows no code cell with a start time (or was never written).

    papermill marks cells it never reached "completed" at the end, so the start time,
    set only when a cell starts, is what tells.
    """
    try:
        nb = nbformat.read(str(executed), as_version=4)
    except Exception:  # not written at all: the failure came before papermill saved anything
        return True
    return all(not cell.get("metadata", {}).get("papermill", {}).get("start_time")
               for cell in nb.cells if cell.cell_type == "code")


def run_notebook(source: Path, executed: Path, parameters: dict, cwd: str, *, env: dict[str, str] | None = None,
                 timeout: float = DEFAULT_NOTEBOOK_TIMEOUT, kernel_arguments: list[str] | None = None,
                 report=None) -> None:
    """Execute ``source`` into ``executed``; raise papermill's error, :class:`NotebookTimeout` or :class:`KernelStartFailed`."""
    import papermill

    report = report or (lambda _line: None)
    for attempt in range(1, START_ATTEMPTS + 1):
        started: list = []
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            for manager in started:
                process = getattr(manager.provisioner, "process", None)
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGINT)

        with tempfile.TemporaryFile() as stderr:   # mode 0600, gone when closed; only read on a failed start
            watchdog = threading.Timer(timeout, interrupt)
            watchdog.daemon = True
            watchdog.start()
            try:
                papermill.execute_notebook(
                    str(source), str(executed), parameters=parameters, cwd=cwd, progress_bar=False,
                    log_output=False, kernel_name="python3", extra_arguments=kernel_arguments or [],
                    execution_timeout=timeout + CELL_TIMEOUT_GRACE,
                    kernel_manager_class=_manager_class(env or {}, stderr, started))
                return
            except Exception as exc:
                if timed_out.is_set():
                    raise NotebookTimeout(f"ran longer than its limit of {timeout:g} s and was interrupted "
                                          "(a Terraform command in it got SIGINT; the notebook's last output says whether its state lock "
                                          "was released)") from exc
                stderr.seek(0)
                kernel_said = stderr.read().decode(errors="replace")
                if PORT_CLASH not in kernel_said or not _no_cell_started(executed):
                    raise
                if attempt == START_ATTEMPTS:
                    raise KernelStartFailed(f"the kernel could not bind its ports ({PORT_CLASH}) "
                                            f"in {START_ATTEMPTS} attempts") from exc
                report(f"kernel for {source.stem} could not bind its ports ({PORT_CLASH}); starting another")
            finally:
                watchdog.cancel()
