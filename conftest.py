"""Test-wide markers for everything pytest collects here: tests/ and, under nbval, notebooks/."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Slow: whatever starts the sandbox or Terraform, and the runbook notebooks under nbval.

    The suite's chain (the notebooks under nbval, then every test built on ``suite_sandbox``)
    is one xdist group: with ``-n 2 --dist loadgroup`` it runs in order on one worker while
    the other worker takes everything else. Any other notebook nbval collects (a test
    fixture's) is a group of its own: its cells share one kernel, so they must run on one
    worker, in order.
    """
    for item in items:
        path = Path(item.path)
        runbook_notebook = path.parent == ROOT / "notebooks"
        if item.get_closest_marker("sandbox") or item.get_closest_marker("terraform") or runbook_notebook:
            item.add_marker(pytest.mark.slow)
        if runbook_notebook or "suite_sandbox" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("suite"))
        elif path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(f"notebook-{path.relative_to(ROOT)}"))
