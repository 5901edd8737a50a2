"""The processes of a batch run: progress lines from workers, and a clean stop on SIGINT or SIGTERM.

A stop is cooperative first and forceful only when asked twice:

1. the run's stop file is created: no worker starts another notebook, and every
   engine call in a running kernel sees it before it plans or applies (the file is
   named by ``RUNBOOK_STOP_FILE``, which kernels inherit);
2. each running kernel gets one SIGINT, which interrupts the cell: a Terraform
   command in it gets SIGINT in turn, stops and releases its state lock;
3. a second signal kills the kernels at once (their Terraform still gets SIGINT,
   through the parent-death signal the runner sets).

Pool workers ignore SIGINT themselves, so a Ctrl-C in the terminal reaches the
parent's plan above instead of tearing the workers down mid-cell.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import psutil

from ..engine import STOP_FILE_ENV
from ..stopping import TERMINATING
from ..stopping import end

KERNEL_MARK = "ipykernel_launcher"
SETTLE_SECONDS = 30


def ignore_sigint() -> None:
    """Pool worker initializer: the parent decides how a worker's notebook is stopped.

    The worker shares the parent's process group: Ctrl-C, and SIGHUP when the terminal
    closes, reach it too; the parent's handler stops its notebook instead.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _ignore_hangup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


@contextmanager
def lines_from_workers(progress: Callable[[str], None]):
    """A ``report`` callable that worker processes can use; their lines reach ``progress`` here, in order."""
    from multiprocessing.managers import SyncManager

    # its server process ignores SIGINT itself, and SIGHUP (a closed terminal) by this initializer: the
    # parent decides when the run stops, and keeps printing the workers' lines until then
    manager = SyncManager()
    manager.start(_ignore_hangup)
    with manager:
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


def _kernels() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any(KERNEL_MARK in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


class Interrupts:
    """SIGINT/SIGTERM/SIGHUP handlers for the batch parent, and the stop file they create."""

    def __init__(self, stop_file: Path, progress: Callable[[str], None], on_stop: Callable[[], None] | None = None):
        self.stop_file = Path(stop_file)
        self.progress = progress
        self.on_stop = on_stop     # the executor's own stop, for jobs this machine's stop file does not reach
        self.count = 0
        self._previous: dict[int, object] = {}
        self._saved_env: str | None = None

    def __enter__(self) -> Interrupts:
        self._saved_env = os.environ.get(STOP_FILE_ENV)
        os.environ[STOP_FILE_ENV] = str(self.stop_file)   # workers and kernels started from now on inherit it
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, *TERMINATING):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self._saved_env is None:
            os.environ.pop(STOP_FILE_ENV, None)
        else:
            os.environ[STOP_FILE_ENV] = self._saved_env

    @property
    def stopped(self) -> bool:
        return self.count > 0

    def _handle(self, signum, _frame) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        if self.count == 1:
            self.stop_file.touch()
            self.progress(f"{name}: stopping. No new notebook starts; running ones are interrupted and their "
                          "Terraform asked to release its state lock (each notebook says whether it did). Send it "
                          "again to stop at once.")
            for kernel in _kernels():
                try:
                    kernel.send_signal(signal.SIGINT)
                except psutil.Error:
                    pass
            if self.on_stop:
                try:
                    self.on_stop()
                except Exception as exc:  # the cluster went away: local kernels were still interrupted
                    self.progress(f"could not pass the stop on to the executor: {type(exc).__name__}: {exc}")
        else:
            self.progress(f"{name} again: stopping at once")
            for kernel in _kernels():
                try:
                    kernel.kill()
                except psutil.Error:
                    pass

    def settle(self) -> None:
        """After the jobs: no kernel of this run may outlive it (each is asked to stop, then killed)."""
        end(_kernels(), grace=SETTLE_SECONDS)
