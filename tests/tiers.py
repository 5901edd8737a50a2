"""The suite's two tiers, and the rules that keep the fast one honest.

A test is slow when it runs Terraform or starts the sandbox, a kernel, JupyterLab, a
browser or a Dask cluster. Nobody marks that test by test: the fixture or helper that
starts one of them says so with ``@starts(...)`` (or the ``sandbox`` and ``terraform``
markers), and the collection hook in the top-level conftest marks every test that uses
it ``slow``. ``make test-fast`` runs ``-m "not slow"``; while any test not marked slow
runs, starting one of those things fails it at once, with the test's name and what it
started (``guard_processes``). The guard sees the processes a test starts itself, not
their children: a test that runs ``runbook lab`` or ``runbook run`` as a subprocess
carries its marker by hand.

Under CI (``CI`` set to a true value), a test skipped because a tool is missing
(``missing``) fails instead: CI must never pass on tests it did not run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Callable

import pytest

#: What a fast test may not start: programs (by file name; Terraform only the real one on PATH, not a recorded
#: stand-in a test writes) and Python modules run with -m (or a driver's subcommand).
HEAVY_PROGRAMS = {"terraform": "Terraform", "chromium": "a browser", "chromium-browser": "a browser",
                  "jupyter-lab": "JupyterLab", "dask": "a Dask scheduler or worker"}
HEAVY_MODULES = {"runbook_lib.sandbox.serve": "the sandbox's emulator", "ipykernel_launcher": "a Jupyter kernel",
                 "jupyterlab": "JupyterLab", "run-driver": "a browser (Playwright's driver)",
                 "distributed.cli.dask_scheduler": "a Dask scheduler", "distributed.cli.dask_worker": "a Dask worker"}
MISSING_PREFIX = "missing tool: "
# A file in a sandbox folder whose tests provoke the emulator's wire-fault log lines on purpose.
DELIBERATE_FAULTS = "deliberate-wire-faults"
TRUE = ("1", "true", "yes", "on")


def starts(what: str) -> Callable:
    """Mark a fixture as one that starts ``what`` (Terraform, the sandbox, ...): every test using it is slow."""
    def mark(function: Callable) -> Callable:
        function.starts = what
        return function
    return mark


def heavy_fixtures(item: pytest.Item) -> list[str]:
    """What the fixtures an item uses start, from their ``@starts`` marks."""
    info = getattr(item, "_fixtureinfo", None)
    found = []
    for definitions in (info.name2fixturedefs.values() if info else ()):
        for definition in definitions:
            what = getattr(definition.func, "starts", None)
            if what:
                found.append(what)
    return found


def _real_terraform(program: str) -> bool:
    real = shutil.which("terraform")
    found = shutil.which(program) if os.sep not in program else program
    return bool(real and found) and os.path.realpath(found) == os.path.realpath(real)


def heavy_command(args) -> str | None:
    """What a process with this command line is, if a fast test may not start it."""
    if isinstance(args, (str, bytes, os.PathLike)):
        args = os.fsdecode(args).split()
    words = [os.fsdecode(word) for word in args]
    if not words:
        return None
    program = os.path.basename(words[0])
    if program in HEAVY_PROGRAMS and (program != "terraform" or _real_terraform(words[0])):
        return HEAVY_PROGRAMS[program]
    for word in words[1:]:
        if word in HEAVY_MODULES:
            return HEAVY_MODULES[word]
    return None


class FastTestStartedSomethingSlow(BaseException):
    """Raised in a fast test that started a slow thing (a BaseException, so no ``except Exception`` hides it)."""


def guard_processes(current: Callable[[], pytest.Item | None]) -> None:
    """Make ``subprocess.Popen`` refuse, inside a test not marked slow, to start anything in HEAVY_COMMANDS."""
    original = subprocess.Popen.__init__
    if getattr(original, "tier_guard", False):
        return

    def guarded(self, args, *rest, **kwargs):
        item = current()
        if item is not None and item.get_closest_marker("slow") is None:
            what = heavy_command(args)
            if what:
                raise FastTestStartedSomethingSlow(
                    f"{item.nodeid} is in the fast tier but started {what} ({' '.join(map(str, args))[:120]}): "
                    "use a fixture marked @starts(...), or the sandbox/terraform marker, so it is slow")
        original(self, args, *rest, **kwargs)

    guarded.tier_guard = True
    subprocess.Popen.__init__ = guarded


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in TRUE


def missing(what: str) -> None:
    """Skip: ``what`` (a tool or a mirror) is not on this machine. Under CI the skip fails the test instead."""
    pytest.skip(MISSING_PREFIX + what)
