"""``make demo`` stops only a sandbox it started itself.

The sandbox is real; the batch the demo would run in between is not what is tested, so
``runbook run`` is replaced by a stand-in that fails at once (the demo then runs no pipeline).
"""

from __future__ import annotations

import pytest

from runbook_lib import demo
from runbook_lib.sandbox import server

from .tiers import starts

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture
@starts("the sandbox")
def sandbox_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(tmp_path / "sandbox"))
    monkeypatch.delenv("KEEP_SANDBOX", raising=False)
    yield tmp_path / "sandbox"
    server.stop(tmp_path / "sandbox")


def _without_the_batch(monkeypatch) -> list[list[str]]:
    calls: list[list[str]] = []
    real = demo.cli_main

    def cli(argv: list[str]) -> int:
        calls.append(argv)
        return 1 if argv[0] == "run" else real(argv)   # stand-in: the batch fails at once, nothing else runs
    monkeypatch.setattr(demo, "cli_main", cli)
    return calls


def test_a_sandbox_running_before_the_demo_is_left_running(sandbox_dir, monkeypatch, capsys):
    before = server.start(directory=sandbox_dir)
    calls = _without_the_batch(monkeypatch)
    assert demo.run() == 1
    assert server.status(sandbox_dir) == before   # the same emulator, still answering
    assert ["sandbox", "stop"] not in calls
    assert "(it was running before the demo)" in capsys.readouterr().out


def test_a_sandbox_the_demo_started_is_stopped(sandbox_dir, monkeypatch):
    calls = _without_the_batch(monkeypatch)
    assert demo.run() == 1
    assert ["sandbox", "stop"] in calls and server.status(sandbox_dir) is None
