"""`runbook validate` runs Terraform's own init -backend=false and validate on each root, after the static checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT, needs_terraform

pytestmark = [needs_terraform(), pytest.mark.terraform]

RUNBOOK = [sys.executable, "-m", "runbook_lib.cli"]
APP = ["--app", "parameters/apps/web.yaml", "--target", "live"]


def _runbook(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*RUNBOOK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_without_modules_to_install_each_root_fails_terraforms_step_and_nothing_else(tmp_path):
    """No module mirror and no network (git is sent to a closed loopback port): a FAIL per root, exit 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_CONFIG", "RUNBOOK_TF_MODULE_MIRROR"))}
    env.update(HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9", NO_PROXY="", no_proxy="",
               COLUMNS="200")
    out = tmp_path / "out"
    assert _runbook("render", *APP, "--out", str(out), env=env).returncode == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*") if ".terraform" not in str(p))

    static = _runbook("validate", *APP, "--out", str(out), "--static-only", env=env)
    assert static.returncode == 0 and "terraform validate" not in static.stdout, static.stdout + static.stderr

    full = _runbook("validate", *APP, "--out", str(out), env=env)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stdout + full.stderr
    failed = [line for line in full.stdout.splitlines() if "FAIL" in line and "terraform validate" in line]
    assert len(failed) == 3, full.stdout    # cicd-common, ci/web, cd/web
    assert "3 failed" in full.stdout
    # nothing but Terraform's own working folders was written
    assert sorted(p.relative_to(out) for p in out.rglob("*") if ".terraform" not in str(p)) == before
