"""``apply_all`` plans the CI and CD roots side by side once the common root is applied.

Without Terraform: the engine gets a stand-in for each root's Terraform that logs what
it is asked to do, so the order, the overlap and what happens to a plan made ahead
when the run stops can be read from the log.
"""

from __future__ import annotations

import threading
import time

import pytest

from runbook_lib.engine import Engine, RunStopped, Settings
from runbook_lib.results import Outcome
from runbook_lib.terraform.gate import ApprovedPlan
from runbook_lib.terraform.plan import PlanSummary, ResourceChange

PLAN_SECONDS = 1.5   # long enough for both plans to be seen running together on a busy machine


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []

    def add(self, what: str, root: str) -> None:
        with self.lock:
            self.events.append((what, root))

    def at(self, what: str, root: str) -> int:
        return self.events.index((what, root))


class StandIn:
    """One root's Terraform: init, plan (taking a while, interruptible), apply, output."""

    def __init__(self, root, log: Log, cancel, sink, *, changes=None, plan_seconds=PLAN_SECONDS, on_apply=None):
        self.root, self.log, self.cancel, self.sink = root, log, cancel, sink
        self.changes = changes if changes is not None else (ResourceChange(f"{root.name}.thing", "aws_thing", "create"),)
        self.plan_seconds, self.on_apply = plan_seconds, on_apply
        self.planned: PlanSummary | None = None
        self.workdir = root.path

    def version(self):
        return "1.11.4"

    def init(self):
        self.log.add("init", self.root.name)

    def plan(self, destroy=False):
        self.log.add("plan started", self.root.name)
        if self.sink:
            self.sink(f"[{self.root.name}] planning")
        deadline = time.monotonic() + self.plan_seconds
        while time.monotonic() < deadline:
            if self.cancel is not None and self.cancel.is_set():
                self.log.add("plan interrupted", self.root.name)
                raise KeyboardInterrupt
            time.sleep(0.02)
        self.log.add("plan done", self.root.name)
        self.planned = PlanSummary(self.root.name, str(self.workdir), "runbook.tfplan", "digest", self.changes)
        return self.planned

    def apply(self, approved):
        assert isinstance(approved, ApprovedPlan) and approved.summary is self.planned   # exactly the plan made
        if self.on_apply:
            self.on_apply()
        self.log.add("apply", self.root.name)

    def output(self):
        return {}

    def discard_plan(self):
        self.log.add("discard", self.root.name)


@pytest.fixture
def run(org, apps, tmp_path, monkeypatch):
    """An engine for web on live (nothing reaches AWS: every root's Terraform is a stand-in)."""
    log = Log()
    behaviour: dict[str, dict] = {}
    printed: list[str] = []
    engine = Engine(Settings(org, apps["web"], target="live", out=tmp_path, auto_approve=True), sink=printed.append)
    monkeypatch.setattr(engine, "prepare", engine.roots)
    monkeypatch.setattr(engine, "_terraform", lambda root, cancel=None, sink=None, **_kw: StandIn(
        root, log, cancel, sink or engine.sink, **behaviour.get(root.name, {})))
    engine.printed = printed
    return engine, log, behaviour


def test_ci_and_cd_are_planned_side_by_side_after_common_and_applied_in_order(run):
    engine, log, _ = run
    results = engine.apply_all()
    assert [r.outcome for r in results] == [Outcome.APPLIED] * 3
    assert log.at("apply", "cicd-common") < log.at("plan started", "ci/web")   # they read what common creates
    assert log.at("apply", "cicd-common") < log.at("plan started", "cd/web")
    assert log.at("plan started", "cd/web") < log.at("plan done", "ci/web")    # the two plans overlap
    assert log.at("apply", "ci/web") < log.at("apply", "cd/web")
    assert ("discard", "ci/web") not in log.events and ("discard", "cd/web") not in log.events
    # what the CD plan printed while CI was approved and applied waits for CD's turn
    assert engine.printed.index("== step 3/3: apply cd/web") < engine.printed.index("[cd/web] planning")


def test_when_common_fails_nothing_else_is_planned(run):
    engine, log, behaviour = run
    behaviour["cicd-common"] = {"changes": (ResourceChange("cicd-common.old", "aws_thing", "delete"),)}
    with pytest.raises(RunStopped):
        engine.apply_all()
    assert not [e for e in log.events if e[1] != "cicd-common"]


def test_a_plan_made_ahead_is_deleted_when_the_root_before_it_stops(run):
    engine, log, behaviour = run
    behaviour["ci/web"] = {"changes": (ResourceChange("ci/web.repo", "aws_ecr_repository", "delete"),)}
    with pytest.raises(RunStopped) as stopped:
        engine.apply_all()
    assert [r.outcome for r in stopped.value.results] == [Outcome.APPLIED, Outcome.STOPPED]
    assert ("apply", "cd/web") not in log.events
    assert ("discard", "cd/web") in log.events      # its saved plan embeds state: not left behind
    assert "cd/web" not in engine.record.roots       # never reached its turn


def test_ctrl_c_stops_a_plan_running_ahead_and_deletes_it(run):
    engine, log, behaviour = run

    def interrupted():
        raise KeyboardInterrupt

    behaviour["ci/web"] = {"on_apply": interrupted, "plan_seconds": 0.05}
    behaviour["cd/web"] = {"plan_seconds": 30}
    with pytest.raises(RunStopped) as stopped:
        engine.apply_all()
    assert stopped.value.interrupted
    assert ("plan interrupted", "cd/web") in log.events and ("discard", "cd/web") in log.events
    assert ("apply", "cd/web") not in log.events
