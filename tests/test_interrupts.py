"""Clean exits: Ctrl-C (SIGINT to the process group) or SIGTERM stop a run without leaving anything behind.

After a stop no kernel, Terraform or provider process of the run is left (each carries the
run's RUNBOOK_STOP_FILE in its environment, which is how they are found here), no state
lock is left, the run folder stays ``.partial`` with a summary that says interrupted, and a
sandbox the run started is stopped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from runbook_lib.engine import STOP_FILE_ENV

from .conftest import ROOT, needs_terraform, restore_golden
from .test_secrets import _files_holding

pytestmark = [needs_terraform(), pytest.mark.sandbox, pytest.mark.slow]

RUNBOOK = [sys.executable, "-m", "runbook_lib.cli"]


def _processes_of(stop_file: Path) -> list[str]:
    """Every live process started for the run whose stop file is ``stop_file``."""
    left = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.environ().get(STOP_FILE_ENV) == str(stop_file) and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {' '.join(proc.info['cmdline'] or [])[:150]}")
        except psutil.Error:
            continue
    return left


def _start_run(args: list[str], env: dict) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([*RUNBOOK, "run", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in proc.stdout), daemon=True).start()
    return proc, lines


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _partial(lines: list[str]) -> Path:
    found = [re.search(r"run folder (\S+\.partial)", line) for line in lines]
    return Path(next(m.group(1) for m in found if m))


def _terraform_applying(root_fragment: str, within: Path) -> bool:
    """A terraform apply in a root under ``within`` (not another test's run) whose path holds ``root_fragment``."""
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "terraform" in cmd and " apply " in f"{cmd} " and root_fragment in cmd and str(within) in cmd:
            return True
    return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "terminal-closed"])
def test_ctrl_c_while_starting_stops_the_sandbox_it_started_and_keeps_the_partial_folder(tmp_path, signum):
    """SIGINT to the process group is Ctrl-C; SIGHUP to it is the terminal closing: both stop the run the same way."""
    env = dict(os.environ, RUNBOOK_SANDBOX_DIR=str(tmp_path / "sandbox"), RUNBOOK_PROJECT_ROOT=str(ROOT))
    proc, lines = _start_run(["--apps", "parameters/apps/web.yaml", "--out", str(tmp_path / "runs")], env)
    _wait_for(lambda: any("[common] started" in line for line in lines), 120, "the common job to start")
    _wait_for(lambda: any("run folder" in line for line in lines)
              and any("ipykernel" in p for p in _processes_of(_partial(lines) / ".stop")), 120,
              "the first notebook's kernel")
    os.killpg(proc.pid, signum)   # what Ctrl-C in a terminal does, or closing the terminal
    assert proc.wait(timeout=120) == 130, "\n".join(lines)   # nothing was changed yet
    assert f"{signal.Signals(signum).name}: stopping" in "\n".join(lines)
    partial = _partial(lines)
    assert partial.is_dir() and not Path(str(partial).removesuffix(".partial")).exists()
    summary = json.loads((partial / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["healthy"] is False
    assert "INTERRUPTED" in (partial / "report.html").read_text()
    assert _processes_of(partial / ".stop") == []
    status = subprocess.run([*RUNBOOK, "sandbox", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 1 and "not running" in status.stdout   # the run started it, so it stopped it


def _converge(settings) -> None:
    """Apply the app's roots again after the stop (the common root was applied before the run and not touched).

    A resource cut off mid-create comes back tainted, and only that may be replaced.
    """
    from runbook_lib.engine import Engine
    from runbook_lib.results import DONE

    engine = Engine(settings, sink=lambda _line: None)
    engine.prepare()
    for root in ("ci", "cd"):
        result = engine.run_root(root)
        if result.outcome not in DONE:
            # SIGINT can land while a resource is being created: Terraform keeps that object as
            # tainted and plans to replace it, and the gate stops every replacement until allowed
            listed = [line for line in result.reason.splitlines() if line.startswith("  - ")]
            assert listed, result.reason
            for line in listed:
                assert line.startswith("  - replace: module.") and line.endswith(
                    "(tainted: an earlier apply did not finish creating it)"), result.reason
            result = Engine(settings.changed(allow_destroy=True), sink=lambda _line: None).run_root(root)
        assert result.outcome in DONE, (result.root, result.outcome, result.reason)


def _assert_nothing_left(aws, org) -> None:
    ops = "111111111111"
    assert aws.client("ecr", ops).describe_repositories()["repositories"] == []
    assert aws.client("codebuild", ops).list_projects()["projects"] == []
    assert aws.client("codepipeline", ops).list_pipelines()["pipelines"] == []
    assert [b["Name"] for b in aws.client("s3", ops).list_buckets()["Buckets"]] == [org.state_bucket]
    for account in (ops, "222222222222", "333333333333"):
        roles = [r["RoleName"] for r in aws.client("iam", account).list_roles()["Roles"]]
        assert roles == [org.terraform_role_name], (account, roles)
    params = [p["Name"] for p in aws.client("ssm", ops).describe_parameters()["Parameters"]]
    assert params == [org.github_token_parameter]


def test_sigint_in_the_middle_of_an_apply_leaves_no_process_and_no_lock(tmp_path, golden, org, apps, monkeypatch):
    """Then the lifecycle's last steps, on what the stop left: re-run and converge, destroy, nothing left.

    One application (web) after the common job: its CI apply is the one cut off. Two jobs at
    once meeting Ctrl-C are shown on Dask (test_cluster.py, test_ctrl_c_reaches_jobs_running_on_dask_workers).
    """
    from runbook_lib.engine import Engine, Settings
    from runbook_lib.results import Outcome
    from runbook_lib.sandbox import server
    from runbook_lib.sandbox.clients import SandboxSessions

    sandbox_dir = tmp_path / "sandbox"
    env = dict(os.environ, RUNBOOK_SANDBOX_DIR=str(sandbox_dir), RUNBOOK_PROJECT_ROOT=str(ROOT))
    running = restore_golden(golden, "common", sandbox_dir)   # the common root applied; kept to read its state later
    temp_dir = Path(tempfile.gettempdir())
    temp_before = set(temp_dir.iterdir())
    try:
        proc, lines = _start_run(["--apps", "parameters/apps/web.yaml", "--out", str(tmp_path / "runs")], env)
        runs = tmp_path / "runs"
        _wait_for(lambda: _terraform_applying("/work/web/", runs), 600, "web's terraform apply")
        ecr = SandboxSessions(running.url, org.region, org.terraform_role_name).client("ecr", "111111111111")
        _wait_for(lambda: ecr.describe_repositories()["repositories"], 600, "the apply's first ECR repository")
        os.killpg(proc.pid, signal.SIGINT)   # in the middle of the apply: it has created something
        code = proc.wait(timeout=180)
        output = "\n".join(lines)
        assert code == 3, output   # an application's apply had begun changing things
        assert "SIGINT: stopping" in output and "changes were made for" in output
        partial = _partial(lines)
        assert _processes_of(partial / ".stop") == [], "left behind"
        summary = json.loads((partial / "summary.json").read_text())
        assert summary["interrupted"] is True
        interrupted = [s for j in summary["jobs"] for s in j["steps"] if s["status"] == "interrupted"]
        assert interrupted, summary
        # the run's plans held the GitHub token (the common root's prior state): none is left on disk
        token = SandboxSessions(running.url, org.region, org.terraform_role_name).client("ssm", "111111111111") \
            .get_parameter(Name=org.github_token_parameter, WithDecryption=True)["Parameter"]["Value"]
        assert _files_holding(token, [tmp_path / "runs", *sorted(set(temp_dir.iterdir()) - temp_before)]) == []
        s3 = SandboxSessions(running.url, org.region, org.terraform_role_name).client("s3", "111111111111")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=org.state_bucket).get("Contents", [])]
        assert not [k for k in keys if k.endswith(".tflock")], keys   # every lock was released
        # the next run plans cleanly and converges: no lock error on any root the run was working on
        monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(sandbox_dir))
        aws = SandboxSessions(running.url, org.region, org.terraform_role_name)
        assert [j["label"] for j in summary["jobs"] if any(s["status"] == "interrupted" for s in j["steps"])] == ["web"]
        _converge(Settings(org, apps["web"], target="sandbox", out=tmp_path / "again", auto_approve=True))
        # and destroy takes everything away again: the app's roots, then the shared one with the last app
        web = Engine(Settings(org, apps["web"], target="sandbox", out=tmp_path / "again", auto_approve=True),
                     sink=lambda _line: None).destroy_all(include_common=True)
        assert [r.root for r in web] == ["cd/web", "ci/web", "cicd-common"]
        assert [r.outcome for r in web] == [Outcome.DESTROYED] * 3
        _assert_nothing_left(aws, org)
    finally:
        server.stop(sandbox_dir)
