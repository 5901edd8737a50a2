"""After Ctrl-C the runbook says what became of the state lock as the state bucket shows it, never by assumption."""

from __future__ import annotations

import json
import uuid

import pytest

from runbook_lib.engine import Engine, Interrupted, Settings, _Attempt
from runbook_lib.sandbox import server
from runbook_lib.sandbox.clients import SandboxSessions
from runbook_lib.sandbox.seed import seed

from .conftest import OPS_ACCOUNT
from .tiers import starts

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture
@starts("the sandbox")
def seeded(tmp_path, monkeypatch, org):
    directory = tmp_path / "sandbox"
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(directory))
    running = server.start(directory=directory)
    seed(org, running.url)
    yield SandboxSessions(running.url, org.region, org.terraform_role_name).client("s3", OPS_ACCOUNT)
    server.stop(directory)


def _interrupted_during_plan(engine: Engine, root_name: str) -> str:
    attempt = _Attempt(engine, engine.root(root_name))
    attempt.step = "plan"

    def work():
        raise KeyboardInterrupt   # what SIGINT raises in the runbook once Terraform has stopped
    with pytest.raises(Interrupted) as stopped:
        engine._guarded(attempt, work)
    return str(stopped.value)


def test_a_lock_left_behind_is_named_with_its_unlock_command(seeded, org, apps, tmp_path):
    engine = Engine(Settings(org, apps["web"], target="sandbox", out=tmp_path / "out"), sink=lambda _line: None)
    root = engine.root("ci")
    assert _interrupted_during_plan(engine, "ci").endswith("Terraform was stopped, and its state lock is released")
    lock_id = str(uuid.uuid4())   # Terraform did not get to release it (killed after its grace)
    seeded.put_object(Bucket=org.state_bucket, Key=root.lock_key, Body=json.dumps({"ID": lock_id}).encode())
    said = _interrupted_during_plan(engine, "ci")
    assert f"its state lock is STILL HELD: once nothing else works on ci/web, run `runbook unlock ci/web {lock_id}`" in said
    # hostile: a lock object the runbook cannot read an ID from is still reported as held, with no command made up
    seeded.put_object(Bucket=org.state_bucket, Key=root.lock_key, Body=b"not json")
    assert "its state lock is still held" in _interrupted_during_plan(engine, "ci")
    assert "runbook unlock ci/web" not in _interrupted_during_plan(engine, "ci")
