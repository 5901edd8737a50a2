"""Static validation: both examples pass, and each check fails when its rule is broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.render import render_files, write_files
from runbook_lib.targets import make_target
from runbook_lib.validate import Status, passed, validate_tree

from .conftest import needs_terraform

pytestmark = [needs_terraform(), pytest.mark.terraform]


def _rendered(org, app, tmp_path) -> Path:
    write_files(tmp_path, render_files(org, app, make_target("live")))
    return tmp_path


def _failures(findings, check):
    return [f for f in findings if f.check == check and f.status is Status.FAIL]


@pytest.mark.parametrize("name", ["web", "worker"])
def test_examples_pass_every_check(org, apps, tmp_path, name):
    findings = validate_tree(org, apps[name], make_target("live"), _rendered(org, apps[name], tmp_path))
    assert passed(findings), [f for f in findings if f.status is Status.FAIL]
    checks = {f.check for f in findings}
    assert checks >= {"rendered files", "terraform fmt", "HCL parse", "module inputs", "module outputs",
                      "cross-root", "buildspec schema"}


def test_common_only(org, tmp_path):
    assert passed(validate_tree(org, None, make_target("live"), _rendered(org, None, tmp_path)))


def test_nothing_rendered_yet(org, apps, tmp_path):
    findings = validate_tree(org, apps["web"], make_target("live"), tmp_path / "empty")
    assert not passed(findings)
    assert "runbook render" in findings[0].detail


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_unknown_and_missing_module_inputs(org, apps, tmp_path):
    out = _rendered(org, apps["web"], tmp_path)
    _edit(out / "infra/ci/web/main.tf", '  github_repository   = "acme-co/web"\n', '  github_repo         = "acme-co/web"\n')
    findings = validate_tree(org, apps["web"], make_target("live"), out)
    [bad] = _failures(findings, "module inputs")
    assert "module.image_project" in bad.subject
    assert "missing required inputs: github_repository" in bad.detail
    assert "does not declare: github_repo" in bad.detail
    assert _failures(findings, "rendered files")  # drift is reported too


def test_reference_to_an_output_the_module_does_not_have(org, apps, tmp_path):
    out = _rendered(org, apps["web"], tmp_path)
    _edit(out / "infra/ci/web/outputs.tf", "module.ecr_repository.base_mirror_name", "module.ecr_repository.arn")
    [bad] = _failures(validate_tree(org, apps["web"], make_target("live"), out), "module outputs")
    assert "module.ecr_repository.arn" in bad.detail and "base_mirror_name" in bad.detail


def test_cross_root_bucket_mismatch(org, apps, tmp_path):
    out = _rendered(org, apps["web"], tmp_path)
    _edit(out / "infra/cd/web/main.tf", 'artifacts_bucket = "acme-cicd-artifacts"', 'artifacts_bucket = "acme-other"')
    bad = _failures(validate_tree(org, apps["web"], make_target("live"), out), "cross-root")
    assert any("acme-other" in f.detail and "acme-cicd-artifacts" in f.detail for f in bad)


def test_unformatted_file(org, apps, tmp_path):
    out = _rendered(org, apps["web"], tmp_path)
    _edit(out / "infra/ci/web/versions.tf", "required_version = ", "required_version     = ")
    [bad] = _failures(validate_tree(org, apps["web"], make_target("live"), out), "terraform fmt")
    assert "versions.tf" in bad.detail


def test_buildspec_against_the_schema(org, apps, tmp_path):
    out = _rendered(org, apps["web"], tmp_path)
    _edit(out / "infra/cd/web/buildspec-deploy.yml", "phases:\n", "stages:\n")
    [bad] = _failures(validate_tree(org, apps["web"], make_target("live"), out), "buildspec schema")
    assert "'phases' is a required property" in bad.detail


def test_hcl_syntax_error_is_reported_not_raised(org, apps, tmp_path):
    out = _rendered(org, apps["web"], tmp_path)
    _edit(out / "infra/ci/web/main.tf", "locals {", "locals {{")
    findings = validate_tree(org, apps["web"], make_target("live"), out)
    assert any(f.check == "HCL parse" and f.status is Status.FAIL and "main.tf" in f.detail for f in findings)
