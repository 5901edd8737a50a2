"""kill -9 in the middle of an apply, of the runbook and of its Terraform, as a lost machine would.

What the next run meets, and how it gets back to an empty plan without a person touching AWS:
the state lock the killed run held (released with `runbook unlock`), the provider process
it orphaned (ended by the next Terraform command in that root), and the resources AWS created
but the state never recorded (imported through generated import blocks, shown in the plan
and applied through the gate). No file outside Terraform state holds the GitHub token.
"""

from __future__ import annotations

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

from runbook_lib.engine import Engine, Settings
from runbook_lib.results import Outcome
from runbook_lib.sandbox import server
from runbook_lib.sandbox.seed import sessions_for
from runbook_lib.terraform.imports import IMPORTS_FILE
from runbook_lib.terraform.runner import plan_path

from .conftest import OPS_ACCOUNT, ROOT, needs_terraform, restore_golden
from .tiers import DELIBERATE_FAULTS
from .test_secrets import _files_holding

pytestmark = [needs_terraform(), pytest.mark.sandbox, pytest.mark.slow]

ROOT_NAME = "cd/worker"
# The engine's run of one root in a process of its own, its lines printed as `runbook apply` prints them.
APPLY_CD = """
import sys
from pathlib import Path
from runbook_lib.engine import Engine, Settings
from runbook_lib.parameters import load_app, load_org
org = load_org("parameters/org.yaml")
app = load_app("parameters/apps/worker.yaml", org, "parameters/org.yaml")
Engine(Settings(org, app, target="sandbox", out=Path(sys.argv[1]), auto_approve=True),
       sink=lambda line: print(line, flush=True)).run_root("cd")
"""


def _terraform_applying(workdir: Path) -> psutil.Process | None:
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd and Path(cmd[0]).name == "terraform" and "apply" in cmd and f"-chdir={workdir}" in cmd:
            return proc
    return None


def _providers_in_group(group: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"].startswith("terraform-provider-") and os.getpgid(proc.pid) == group:
                found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def test_kill_9_during_a_cd_apply_then_the_next_run_imports_what_it_left(tmp_path, golden, org, apps, monkeypatch):
    sandbox_dir = tmp_path / "sandbox"
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(sandbox_dir))
    temp_dir = Path(tempfile.gettempdir())
    temp_before = set(temp_dir.iterdir())
    running = restore_golden(golden, "before-cd-worker", sandbox_dir)   # the common and CI roots applied
    (sandbox_dir / DELIBERATE_FAULTS).write_text("kill -9 cuts the provider off mid-call: a lost answer is expected\n")
    try:
        out = tmp_path / "out"
        workdir = (out / "infra" / ROOT_NAME).resolve()
        lines: list[str] = []
        plans = []
        engine = Engine(Settings(org, apps["worker"], target="sandbox", out=out, auto_approve=True),
                        sink=lines.append, show_plan=plans.append)
        engine.prepare()
        token = sessions_for(org, running.url).client("ssm", OPS_ACCOUNT).get_parameter(
            Name=org.github_token_parameter, WithDecryption=True)["Parameter"]["Value"]

        # the runbook applying worker's CD root (what `runbook apply` does once the common and CI roots are
        # done: they plan empty here, so the process starts at CD and spares two plans), killed with -9
        # together with its Terraform once AWS has created a CD resource
        env = dict(os.environ, RUNBOOK_PROJECT_ROOT=str(ROOT))
        cli = subprocess.Popen([sys.executable, "-c", APPLY_CD, str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
        cli_lines: list[str] = []
        threading.Thread(target=lambda: cli_lines.extend(cli.stdout), daemon=True).start()
        deadline = time.monotonic() + 300
        while not any(f"[{ROOT_NAME}]" in line and "Creation complete" in line for line in cli_lines):
            assert cli.poll() is None and time.monotonic() < deadline, "".join(cli_lines)
            time.sleep(0.05)
        terraform = _terraform_applying(workdir)
        assert terraform is not None, "".join(cli_lines)
        providers = _providers_in_group(terraform.pid)
        terraform.kill()
        os.killpg(cli.pid, signal.SIGKILL)
        cli.wait(timeout=30)
        terraform.wait(timeout=30)
        orphans = [p for p in providers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        # Terraform had the plan open: it was on disk under no name, so the kill left none behind
        assert not plan_path(workdir).exists()
        assert _files_holding(token, [out, *sorted(set(temp_dir.iterdir()) - temp_before)]) == []

        # the next run: the killed run's lock stops it, with the command that releases it
        del lines[:]
        locked = engine.run_root(ROOT_NAME)
        assert locked.outcome is Outcome.FAILED and "runbook unlock cd/worker" in locked.reason, locked.reason
        # no provider the killed Terraform left outlives that first command: it ended them (and said so), or
        # they had ended on their own before it ran (seen in CI under load; the message itself is proven with
        # real processes in tests/test_terraform_runner.py)
        assert not [p for p in orphans if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], lines
        engine.unlock(ROOT_NAME, re.search(r"lock ID ([0-9a-f-]{36})", locked.reason).group(1))

        # then apply: "already exists", import blocks written and shown, a plan that imports, the gate, applied
        del lines[:], plans[:]
        result = engine.run_root(ROOT_NAME)
        assert result.outcome is Outcome.APPLIED, result.reason + "\n".join(lines[-60:])
        assert result.reason.startswith("imported "), result.reason
        assert any("Importing them instead of creating them again" in line for line in lines), lines
        assert any(line.strip().endswith("import {") for line in lines), lines
        importing = [p for p in plans if p.imports]
        assert importing and "to import" in importing[0].headline(), [p.headline() for p in plans]
        assert not (workdir / IMPORTS_FILE).exists() and not plan_path(workdir).exists()

        # and the plan after that is empty: everything the killed run created is managed again
        assert engine.run_root(ROOT_NAME).outcome is Outcome.NO_CHANGES
        assert _files_holding(token, [out, *sorted(set(temp_dir.iterdir()) - temp_before)]) == []
        print(f"killed run left {len(orphans)} provider process(es); imported: {result.reason}")
    finally:
        server.stop(sandbox_dir)
