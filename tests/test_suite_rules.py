"""Rules of the test suite itself: the fast tier starts nothing slow, no test waits by sleeping, CI runs what it needs.

Each rule is checked where it can fail: a fast test (this one) that starts Terraform or the
sandbox is stopped by the guard; a test file that sleeps to wait, or asserts on a clock, is
named by the scan; a test skipped for a missing tool fails under CI.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .tiers import FastTestStartedSomethingSlow, heavy_command

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CLOCKS = {"monotonic", "time", "perf_counter"}


def test_what_the_fast_tier_may_not_start_is_recognised(tmp_path):
    terraform = shutil.which("terraform") or "terraform"
    assert heavy_command([terraform, "plan"]) == "Terraform"
    assert heavy_command([sys.executable, "-m", "runbook_lib.sandbox.serve", "--port", "1"]) == "the sandbox's emulator"
    assert heavy_command([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"]) == "a Jupyter kernel"
    assert heavy_command(["/usr/bin/chromium", "--headless"]) == "a browser"
    assert heavy_command("dask scheduler --host 127.0.0.1") == "a Dask scheduler or worker"
    stand_in = tmp_path / "terraform"   # a recorded stand-in a test writes is not Terraform
    stand_in.write_text("#!/bin/sh\n")
    assert heavy_command([str(stand_in), "plan"]) is None
    assert heavy_command(["git", "--git-dir", "/x/terraform-codestar-setup.git", "cat-file"]) is None


@pytest.mark.parametrize("command", [["terraform", "version"],
                                     [sys.executable, "-m", "runbook_lib.sandbox.serve", "--directory", "x",
                                      "--port", "1"]], ids=["terraform", "sandbox"])
def test_a_fast_test_that_starts_something_slow_is_stopped_and_named(command):
    if command[0] == "terraform" and not shutil.which("terraform"):
        pytest.skip("no Terraform here to be stopped from starting")
    with pytest.raises(FastTestStartedSomethingSlow, match=r"test_suite_rules\.py::test_a_fast_test.* is in the fast "
                                                            r"tier but started"):
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _in_a_loop(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside a loop of its own function: a polling loop, where a sleep paces the polls and a clock is the timeout."""
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.While, ast.For)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
    return False


def _in_a_class(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside a class: a stand-in whose behaviour takes time on purpose, not a test waiting."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.ClassDef):
            return True
    return False


def _is_call(node: ast.AST, names: set[str], owner: str = "time") -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names
            and isinstance(node.func.value, ast.Name) and node.func.value.id == owner)


def waits_and_clocks(source: str, name: str) -> list[str]:
    """Every ``time.sleep`` outside a polling loop, and every assert that reads a clock, in a test file's source."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if _is_call(node, {"sleep"}) and not _in_a_loop(node, parents) and not _in_a_class(node, parents):
            found.append(f"{name}:{node.lineno}: sleeps to wait; wait for the event itself, with a generous timeout")
        if isinstance(node, ast.Assert) and any(_is_call(n, CLOCKS) for n in ast.walk(node.test)) \
                and not _in_a_loop(node, parents):
            found.append(f"{name}:{node.lineno}: asserts on a wall-clock span; assert on what happened instead")
    return sorted(found, key=lambda line: int(line.split(":")[1]))


def test_no_test_sleeps_to_wait_or_asserts_on_a_clock():
    found = [line for path in sorted(TESTS.glob("*.py")) for line in waits_and_clocks(path.read_text(), path.name)]
    assert found == []


def test_the_scan_names_a_sleep_and_a_clock_assert_and_lets_a_polling_loop_pass():
    bad = ("import time\ndef test_x():\n    time.sleep(2)\n    started = time.monotonic()\n"
           "    assert time.monotonic() - started < 10\n")
    assert waits_and_clocks(bad, "test_x.py") == [
        "test_x.py:3: sleeps to wait; wait for the event itself, with a generous timeout",
        "test_x.py:5: asserts on a wall-clock span; assert on what happened instead"]
    polling = ("import time\ndef wait(ready):\n    deadline = time.monotonic() + 60\n    while not ready():\n"
               "        assert time.monotonic() < deadline\n        time.sleep(0.1)\n")
    assert waits_and_clocks(polling, "test_y.py") == []


def test_under_ci_a_test_skipped_for_a_missing_tool_fails(tmp_path):
    test = tmp_path / "test_needs_a_tool.py"
    test.write_text("from tests.tiers import missing\n\ndef test_it():\n    missing('a tool this machine lacks')\n")
    command = [sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider", str(test)]
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    quiet = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "1 skipped" in quiet.stdout, quiet.stdout
    under_ci = subprocess.run(command, cwd=ROOT, env=dict(env, CI="true"), capture_output=True, text=True, timeout=120)
    assert under_ci.returncode == 1, under_ci.stdout
    assert "skipped under CI, which must run it" in under_ci.stdout
    assert "missing tool: a tool this machine lacks" in under_ci.stdout
