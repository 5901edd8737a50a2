"""The Terraform wrapper without a cloud: plan summaries, the gate, error messages, version and plan checks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from runbook_lib.errors import TerraformError
from runbook_lib.terraform.binary import GO_GC_PERCENT, cli_config_text, find_terraform, terraform_env
from runbook_lib.terraform.errors import explain
from runbook_lib.terraform.gate import ApprovalError, ApprovedPlan, approve
from runbook_lib.terraform.plan import SENSITIVE, summarize
from runbook_lib.terraform.runner import Terraform, parse_version

from .conftest import needs_terraform

FIXTURES = Path(__file__).parent / "fixtures"


def _summary(name: str, tmp_path: Path):
    plan_file = tmp_path / "runbook.tfplan"
    plan_file.write_bytes(b"plan bytes of " + name.encode())
    show = json.loads((FIXTURES / "plans" / f"{name}.json").read_text())
    return summarize(show, root="ci/web", workdir=tmp_path, plan_file=plan_file)


def test_summary_counts_each_action(tmp_path):
    s = _summary("mixed", tmp_path)
    assert s.counts == {"create": 1, "update": 1, "replace": 1, "delete": 1}
    assert [c.address for c in s.destructive] == [
        "module.pipeline_staging.aws_codepipeline.this", "module.deploy_role_x.aws_iam_role.this"]
    assert not s.is_empty
    assert s.headline() == "ci/web: 1 to create, 1 to update, 1 to replace, 1 to delete"
    assert all(c.address != "data.aws_caller_identity.this" for c in s.changes)


def test_sensitive_values_never_reach_the_summary(tmp_path):
    s = _summary("mixed", tmp_path)
    [update] = s.by_action("update")
    token = next(a for a in update.attributes if a.name == "token")
    assert token.before == SENSITIVE and token.after == SENSITIVE
    assert "ghp_" not in repr(s)
    assert {a.name for a in update.attributes} == {"description", "token"}


def test_no_op_plan_is_empty(tmp_path):
    s = _summary("empty", tmp_path)
    assert s.is_empty and s.headline() == "ci/web: no changes"


def test_gate_stops_deletes_even_with_auto_approve(tmp_path):
    s = _summary("mixed", tmp_path)
    with pytest.raises(ApprovalError) as exc:
        approve(s, auto_approve=True)
    assert "  - delete: module.deploy_role_x.aws_iam_role.this (no longer in the configuration)" in str(exc.value)
    assert ("  - replace: module.pipeline_staging.aws_codepipeline.this "
            "(a changed argument cannot be updated in place)") in str(exc.value)
    assert "--allow-destroy" in str(exc.value) and "nothing was applied" in str(exc.value)
    assert approve(s, auto_approve=True, allow_destroy=True).approved_by == "auto-approve"


def test_gate_needs_someone_to_approve(tmp_path):
    s = _summary("mixed", tmp_path)
    with pytest.raises(ApprovalError, match="--auto-approve"):
        approve(s, allow_destroy=True)
    with pytest.raises(ApprovalError, match="not approved"):
        approve(s, allow_destroy=True, confirm=lambda _: False)
    assert approve(s, allow_destroy=True, confirm=lambda _: True).approved_by == "confirmed"


@pytest.mark.parametrize("fixture, expected", [
    ("state_lock", ["locked by alice@build-host since 2026-11-26 09:01:02.123456 +0000 UTC",
                    "OperationTypeApply", "`runbook unlock ci/web 8d1c6b7e-3a8e-9c57-2f0e-1b2a3c4d5e6f`",
                    "Nothing was changed"]),
    ("no_credentials", ["credentials for ci/web are missing or expired", "aws sso login"]),
    ("provider_offline", ["could not install the AWS provider", "RUNBOOK_TF_PROVIDER_MIRROR"]),
    ("stale_plan", ["stale", "Plan again"]),
])
def test_common_failures_get_clear_messages(fixture, expected):
    message = explain((FIXTURES / "terraform_output" / f"{fixture}.txt").read_text(), "ci/web")
    for text in expected:
        assert text in message


def test_unrecognised_failure_is_left_to_the_raw_output():
    assert explain("Error: something new", "ci/web") is None


def test_version_parsing():
    assert parse_version("1.11.4") == (1, 11, 4)
    assert parse_version("v1.10.0-beta1") == (1, 10, 0)
    with pytest.raises(TerraformError):
        parse_version("garbage")


def _fake_terraform(tmp_path: Path, version: str) -> Path:
    script = tmp_path / "terraform"
    script.write_text(f"#!/bin/sh\necho '{{\"terraform_version\": \"{version}\"}}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_too_old_terraform_is_refused_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(_fake_terraform(tmp_path, "1.5.7")))
    with pytest.raises(TerraformError) as exc:
        Terraform(tmp_path).version()
    assert "1.5.7 is too old" in str(exc.value) and "use_lockfile" in str(exc.value)


def test_missing_terraform(monkeypatch, tmp_path):
    monkeypatch.delenv("RUNBOOK_TERRAFORM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TerraformError, match="not found on PATH"):
        find_terraform()


def test_cli_config_uses_the_mirror_only_for_hashicorp_providers():
    text = cli_config_text("/opt/mirror", "/cache")
    assert 'plugin_cache_dir = "/cache"' in text
    assert 'path    = "/opt/mirror"' in text and "direct {" in text
    assert cli_config_text(None, None).strip() == ""


@needs_terraform()
def test_go_gc_is_relaxed_for_terraform_unless_the_user_chose_a_value(tmp_path, monkeypatch):
    monkeypatch.delenv("GOGC", raising=False)
    assert terraform_env(tmp_path, plugin_cache=False)["GOGC"] == GO_GC_PERCENT == "400"
    monkeypatch.setenv("GOGC", "150")
    assert terraform_env(tmp_path, plugin_cache=False)["GOGC"] == "150"


def test_apply_takes_only_an_approved_plan_for_this_root(tmp_path):
    root_a, root_b = tmp_path / "a", tmp_path / "b"
    root_a.mkdir(), root_b.mkdir()
    summary = _summary("empty", root_a)
    tf_b = Terraform(root_b, plugin_cache=False)
    with pytest.raises(TerraformError, match="approved plan"):
        tf_b.apply(summary)  # a summary is not an approval
    with pytest.raises(TerraformError, match="belongs to"):
        tf_b.apply(ApprovedPlan(summary, "confirmed"))
    tf_a = Terraform(root_a, plugin_cache=False)
    Path(summary.plan_file).write_bytes(b"swapped after approval")
    with pytest.raises(TerraformError, match="changed after it was approved"):
        tf_a.apply(ApprovedPlan(summary, "confirmed"))
    os.unlink(summary.plan_file)
    with pytest.raises(TerraformError, match="is gone"):
        tf_a.apply(ApprovedPlan(summary, "confirmed"))


@pytest.mark.parametrize("root, lock_id, expected", [
    ("ci/web", "not-a-lock", "lock ID 'not-a-lock' is not a Terraform lock ID"),
    ("ci/nope", "0b8d6f1e-1111-2222-3333-444455556666",
     "root 'ci/nope' is not a root of these parameters (roots: cicd-common, ci/web, cd/web)"),
    ("ci/web", "0b8d6f1e-1111-2222-3333-444455556666", "nothing is rendered at"),
])
def test_unlock_refuses_bad_input_and_touches_nothing(tmp_path, capsys, root, lock_id, expected):
    from runbook_lib.cli import main

    out = tmp_path / "out"
    out.mkdir()
    code = main(["unlock", root, lock_id, "--app", "parameters/apps/web.yaml", "--target", "live", "--out", str(out)])
    assert code == 2
    assert expected in capsys.readouterr().err
    assert list(out.iterdir()) == []
