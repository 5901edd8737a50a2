"""The GitHub token rests nowhere outside Terraform state, even with Terraform's debug log on.

A sandbox of its own, RUNBOOK_TF_LOG=DEBUG, and the common root (its codebuild-credential
module reads the token from SSM): apply it, leave a plan awaiting approval, refuse the
next plan. After each step every file the run wrote is searched for the seeded token.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest

from runbook_lib.engine import Engine, Settings
from runbook_lib.resolved import connection_parameter
from runbook_lib.results import Outcome
from runbook_lib.sandbox import server
from runbook_lib.sandbox.seed import sessions_for
from runbook_lib.terraform.runner import plan_path

from .conftest import OPS_ACCOUNT, needs_terraform, restore_golden

pytestmark = [needs_terraform(), pytest.mark.sandbox, pytest.mark.terraform]

COMMON = "cicd-common"


def _texts(path: Path):
    """The bytes of ``path``, and of each member when it is a zip (a plan file is one, compressed)."""
    data = path.read_bytes()
    yield data
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                yield archive.read(name)


def _files_holding(secret: str, places: list[Path]) -> list[Path]:
    """Every regular file at or under ``places`` whose bytes hold ``secret``.

    Symbolic links are not followed: with a provider mirror, .terraform/providers links
    to the provider binaries there, which the run did not write.
    """
    found = set()
    for place in places:
        files = [place] if place.is_file() else [Path(d) / f for d, _, names in os.walk(place) for f in names]
        for file in files:
            if file.is_symlink() or not file.is_file():
                continue
            try:
                if any(secret.encode() in text for text in _texts(file)):
                    found.add(file)
            except OSError:   # another user's entry in the temp dir
                continue
    return sorted(found)


@pytest.fixture
def sandbox(tmp_path, monkeypatch, golden):
    """The common root applied (the run's snapshot), in a sandbox of this test's own."""
    directory = tmp_path / "sandbox"
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(directory))
    running = restore_golden(golden, "common", directory)
    yield running
    server.stop(directory)


def test_the_github_token_rests_only_in_a_plan_awaiting_approval(sandbox, org, tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOOK_TF_LOG", "DEBUG")
    temp_dir = Path(tempfile.gettempdir())
    temp_before = set(temp_dir.iterdir())
    out, record = tmp_path / "out", tmp_path / "record.json"
    log = out / "logs" / "cicd-common.log"   # as the notebooks' log sink writes it

    def sink(line: str) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def engine(auto_approve: bool, confirm=None) -> Engine:
        return Engine(Settings(org, target="sandbox", out=out, auto_approve=auto_approve), sink=sink,
                      record_file=record, confirm=confirm)

    def places() -> list[Path]:
        return [out, record, log, *sorted(set(temp_dir.iterdir()) - temp_before)]

    first = engine(auto_approve=True)
    first.prepare()
    ssm = sessions_for(org, sandbox.url).client("ssm", OPS_ACCOUNT)
    token = ssm.get_parameter(Name=org.github_token_parameter, WithDecryption=True)["Parameter"]["Value"]
    assert token.startswith("ghp_sandbox")
    # An apply that reads the token (its data source) and writes: the connection's parameter, deleted by hand
    ssm.delete_parameter(Name=connection_parameter(org.codestar_connection_name))
    assert first.run_root(COMMON).outcome is Outcome.APPLIED
    plan_file = plan_path(out / "infra" / COMMON)
    assert not plan_file.exists()
    assert _files_holding(token, places()) == []
    lines = log.read_text()
    assert "[DEBUG]" in lines and "Terraform's debug log is on (TF_LOG=DEBUG)" in lines
    assert '"Value": "(redacted)"' in lines   # the GetParameter response that carried the token

    # Drift (the connection's parameter deleted): a plan that creates it waits for a person.
    ssm.delete_parameter(Name=connection_parameter(org.codestar_connection_name))
    waiting = engine(auto_approve=False).run_root(COMMON)
    assert waiting.outcome is Outcome.AWAITING_APPROVAL, waiting.reason
    assert stat.S_IMODE(plan_file.stat().st_mode) == 0o600
    # The saved plan embeds the prior state, and the state holds the token (the data
    # source that reads it): the plan is the one file outside the state bucket with it.
    assert _files_holding(token, places()) == [plan_file]

    refused = engine(auto_approve=False, confirm=lambda _plan: False).run_root(COMMON)
    assert refused.outcome is Outcome.STOPPED, refused.reason
    assert not plan_file.exists()
    assert _files_holding(token, places()) == []
