"""On real plans, the summary read from ``plan -json`` is the one ``show -json`` gives for the same saved plan.

A sandbox of its own and web's CI root (thoughtbot's modules, one provider: the common
root's four provider configurations make each of its plans about three times as costly,
and prove nothing more about the plan's format): a plan from nothing (creates) on the
run's snapshot of the applied common root; then, with the snapshot where web's CI root is
applied, a replacement asked for, a destroy plan, and a changed tag (an update, whose
attributes only ``show -json`` has: the runner must fall back to it). Terraform 1.11 and
the AWS provider 5.100.
"""

from __future__ import annotations

import json
import shutil

import pytest

from runbook_lib.render import render_files, write_files
from runbook_lib.targets import make_target
from runbook_lib.terraform.plan import summarize, summary_from_stream
from runbook_lib.terraform.runner import Terraform, plan_path

from .conftest import needs_terraform, restore_golden

pytestmark = [needs_terraform(), pytest.mark.sandbox, pytest.mark.terraform, pytest.mark.slow]


def _both_ways(tf: Terraform, *extra: str):
    """A saved plan made with ``extra``; its summary from the stream and from show -json."""
    plan_file = plan_path(tf.workdir)
    planned = tf._run(["plan", "-input=false", "-no-color", "-json", f"-out={plan_file}", *extra], json_lines=True,
                      stream=False)
    shown = json.loads(tf._run(["show", "-json", "-no-color", str(plan_file)], stream=False).stdout)
    where = {"root": tf.root, "workdir": tf.workdir, "plan_file": plan_file}
    return summary_from_stream(list(planned.messages), **where), summarize(shown, **where)


def test_the_stream_and_show_json_agree_on_real_plans(tmp_path, golden, org, apps, monkeypatch):
    from runbook_lib.sandbox import server

    sandbox_dir = tmp_path / "sandbox"
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(sandbox_dir))
    restore_golden(golden, "common", sandbox_dir)   # what web's CI root reads: the common root applied
    try:
        target = make_target("sandbox")
        out = tmp_path / "out"
        write_files(out, render_files(org, apps["web"], target))
        commands: list[list[str]] = []
        tf = Terraform(out / "infra/ci/web", root="ci/web", env=target.terraform_env(), sink=lambda _l: None)
        run = tf._run
        monkeypatch.setattr(tf, "_run", lambda args, **kw: commands.append(args) or run(args, **kw))
        tf.init()

        created = tf.plan()
        assert created.counts["create"] > 5
        assert [a[0] for a in commands] == ["init", "plan"]   # no show -json: the provider started once less
        plan_file = plan_path(tf.workdir)   # the same saved plan, read by show -json
        shown = json.loads(tf._run(["show", "-json", "-no-color", str(plan_file)], stream=False).stdout)
        assert created == summarize(shown, root=tf.root, workdir=tf.workdir, plan_file=plan_file)
        # what applying that plan leaves: the run's snapshot where web's CI root is applied
        snapshot = server.snapshot_file("before-cd-worker", sandbox_dir)
        shutil.copy(golden / snapshot.name, snapshot)
        server.load_snapshot("before-cd-worker", sandbox_dir)
        assert tf.plan().is_empty, "the snapshot's CI root for web differs from what was just rendered"

        # a leaf: replacing the repository itself would update what names it, which only show -json details
        # a leaf no module waits on: anything in the repository's module would also update both projects, whose
        # module calls depend on it (their data sources are read again at apply), and only show -json details that
        replaced = _both_ways(tf, "-replace=module.manifests_project.module.project.aws_iam_role_policy.codebuild")
        assert replaced[0] == replaced[1] and replaced[0].counts["replace"] >= 1
        destroyed = _both_ways(tf, "-destroy")
        assert destroyed[0] == destroyed[1] and destroyed[0].counts["delete"] == created.counts["create"]

        main = out / "infra/ci/web/main.tf"
        main.write_text(main.read_text().replace('owner       = "platform"', 'owner       = "platform-team"', 1))
        commands.clear()
        updated = tf.plan()
        assert [a[0] for a in commands] == ["plan", "show"]   # an update's attributes come from show -json
        assert updated.counts["update"] >= 1
        assert any(a.name == "tags" for c in updated.by_action("update") for a in c.attributes)
        tf.discard_plan()
    finally:
        server.stop(sandbox_dir)
