"""Ending processes the runbook started or found: ask first, then kill what is still there."""

from __future__ import annotations

import signal

import psutil


# Signals that end a run as Ctrl-C does (SIGHUP: the terminal it ran in was closed).
TERMINATING = (signal.SIGTERM, signal.SIGHUP)


def end(processes: list[psutil.Process], *, first: int = signal.SIGTERM, grace: float = 5) -> None:
    """Send ``first`` to each of ``processes``, wait up to ``grace`` seconds, then SIGKILL the rest.

    Processes that are already gone are skipped; nothing here raises for them.
    """
    for proc in processes:
        try:
            proc.send_signal(first)
        except psutil.Error:
            pass
    _gone, alive = psutil.wait_procs(processes, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
