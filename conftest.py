"""Test-wide rules for everything pytest collects here: tests/ and, under nbval, notebooks/.

- The tiers (tests/tiers.py): what is slow is marked by what starts it; a fast test that
  starts Terraform, the sandbox, a kernel, JupyterLab, a browser or Dask fails at once.
- Under CI a test skipped for a missing tool fails.
- An emulator's log that shows a call sent again, an answer lost or a request that
  failed inside moto fails the run (``pytest_sessionfinish``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests import tiers

ROOT = Path(__file__).resolve().parent
SLOW_MARKERS = ("sandbox", "terraform", "kernel", "browser", "dask", "jupyterlab")
_current: list[pytest.Item] = []


OUTER_SESSION_ENV = "RUNBOOK_TEST_OUTER_SESSION"


def pytest_configure(config):
    tiers.guard_processes(lambda: _current[-1] if _current else None)
    if not hasattr(config, "workerinput"):
        config.nested = bool(os.environ.get(OUTER_SESSION_ENV))   # a pytest run by a test of this suite
        os.environ[OUTER_SESSION_ENV] = "1"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Slow: whatever starts the sandbox, Terraform and the like, and the runbook notebooks under nbval.

    The suite's chain (the notebooks under nbval, then every test built on ``suite_sandbox``)
    is one xdist group: with ``-n 2 --dist loadgroup`` it runs in order on one worker while
    the other worker takes everything else. Any other notebook nbval collects (a test
    fixture's) is a group of its own: its cells share one kernel, so they must run on one
    worker, in order.
    """
    for item in items:
        path = Path(item.path)
        runbook_notebook = path.parent == ROOT / "notebooks"
        if runbook_notebook or any(item.get_closest_marker(name) for name in SLOW_MARKERS) \
                or tiers.heavy_fixtures(item) or path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
        if runbook_notebook or "suite_sandbox" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("suite"))
        elif path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(f"notebook-{path.relative_to(ROOT)}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current.append(item)
    try:
        yield
    finally:
        _current.pop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and tiers.under_ci() and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if tiers.MISSING_PREFIX in reason:
            report.outcome = "failed"
            report.longrepr = f"{item.nodeid}: skipped under CI, which must run it: {reason}"


def _emulator_logs(session) -> list[Path]:
    roots = []
    basetemp = getattr(session.config, "_tmp_path_factory", None)
    if basetemp is not None:
        try:
            roots.append(basetemp.getbasetemp())
        except (OSError, ValueError):
            pass
    if os.environ.get("RUNBOOK_SANDBOX_DIR"):
        roots.append(Path(os.environ["RUNBOOK_SANDBOX_DIR"]))
    return [log for root in roots if root.is_dir() for log in root.rglob("emulator.log")
            if not (log.parent / tiers.DELIBERATE_FAULTS).exists()]


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when an emulator's log shows a call sent again, an answer lost, or a request that crashed moto.

    On xdist's controller this sees every worker's sandboxes (they live under its base temp folder).
    """
    if hasattr(session.config, "workerinput") or getattr(session.config, "nested", False):
        return
    from runbook_lib.sandbox.serve import DROPPED_MARK, FAILED_MARK, REPLAYED_MARK, RESENT_MARK

    found, reads = [], []
    for log in _emulator_logs(session):
        lines = log.read_text(errors="replace").splitlines()
        # Calls whose attempt sent again got the first attempt's answer: a lost answer of theirs changed nothing twice.
        replayed = {m.group(1) for line in lines if REPLAYED_MARK in line
                    for m in [re.search(r"\(call ([0-9a-f-]{36}),", line)] if m}
        for number, line in enumerate(lines, 1):
            if any(mark in line for mark in (RESENT_MARK, DROPPED_MARK, FAILED_MARK)):
                lost = re.search(r"\(call ([0-9a-f-]{36}),", line) if DROPPED_MARK in line else None
                harmless = FAILED_MARK not in line and (_read_call(line) or REPLAYED_MARK in line
                                                        or (lost is not None and lost.group(1) in replayed))
                (reads if harmless else found).append(f"{log}:{number}: {line.strip()}")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reads and reporter:
        reporter.write_line(f"{len(reads)} read(s) sent again or given up by a client, or call(s) sent again and answered "
                            "with their first answer (harmless, listed to watch):\n  "
                            + "\n  ".join(reads[:20]), yellow=True)
    if found:
        message = (f"{len(found)} line(s) in the test sandboxes' emulator logs show a change sent again, an answer "
                   "lost or a request moto failed on:\n  " + "\n  ".join(found[:20]))
        if reporter:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# The end of a marked line, "(call [ID, ]SERVICE OPERATION)", when the call is a read (or AssumeRole).
READS = re.compile(r"\S+ (?:(?:Get|List|Describe|Head|BatchGet)\w*|AssumeRole\w*)\)$|\S+ (?:GET|HEAD) /\S*\)$")


def _read_call(line: str) -> bool:
    """Whether a resent call, or a call whose answer was lost, is one that changes nothing (a read, or AssumeRole)."""
    return bool(READS.search(line.strip()))
