"""After an interrupted apply: resources AWS has but the state lacks are imported through the gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.engine import Engine, Settings
from runbook_lib.render import render_files, write_files
from runbook_lib.targets import make_target
from runbook_lib.terraform.imports import IMPORTS_FILE, import_file_text, is_import_file, leftovers
from runbook_lib.terraform.plan import summarize, table
from runbook_lib.validate import check_unrendered

OUTPUT = Path(__file__).parent / "fixtures" / "terraform_output"
OPS = "111111111111"


def _ops(_address: str) -> str:
    return OPS


def _error(kind: str, name: str, code: str, address: str) -> str:
    return (f"\nError: creating {kind} ({name}): operation error: https response error StatusCode: 409, "
            f"{code}: already exists.\n\n  with {address},\n  on main.tf line 1:\n\n")


def test_a_role_left_by_a_killed_apply_gets_an_import_block():
    found = leftovers((OUTPUT / "already_exists.txt").read_text())
    text = import_file_text(found, _ops)
    assert text is not None and is_import_file(text)
    assert "import {\n  to = module.deploy_project.aws_iam_role.codebuild\n  id = \"acme-worker-deploy\"\n}\n" in text


def test_a_policy_is_imported_by_its_arn_in_its_own_account():
    found = leftovers(_error("IAM Policy", "acme-web-pipeline", "EntityAlreadyExists",
                             'module.pipeline_staging.aws_iam_policy.this'))
    text = import_file_text(found, lambda address: "222222222222")
    assert 'id = "arn:aws:iam::222222222222:policy/acme-web-pipeline"' in text


def test_the_sandbox_pipeline_wording_is_recognised():
    text = ("Error: creating CodePipeline (acme-web-staging): operation error CodePipeline: CreatePipeline, "
            "InvalidStructureException: A pipeline with the name 'acme-web-staging' already exists in account "
            "'111111111111'\n\n  with module.pipeline_staging.aws_codepipeline.this,\n")
    [found] = leftovers(text)
    assert (found.address, found.name, found.type) == ("module.pipeline_staging.aws_codepipeline.this",
                                                       "acme-web-staging", "aws_codepipeline")


def test_a_leftover_it_cannot_match_leaves_the_person_to_decide():
    found = leftovers(_error("CodeStar Connection", "acme-github", "ResourceAlreadyExistsException",
                             "module.codestar_connection.aws_codestarconnections_connection.this"))
    assert found and import_file_text(found, _ops) is None
    no_address = leftovers("Error: creating IAM Role (x): EntityAlreadyExists: Role with name x already exists.\n")
    assert no_address[0].address == "ADDRESS" and import_file_text(no_address, _ops) is None


@pytest.mark.parametrize("address", [
    'module.x.aws_iam_role.this\n}\nresource "terraform_data" "evil" {',   # a block smuggled in an address
    "module.x.aws_iam_role.this # comment",
    "module.x.terraform_data.this",
    'module.x["a"b"].aws_iam_role.this',
])
def test_an_address_that_is_not_a_plain_resource_address_is_never_written(address):
    assert import_file_text(leftovers(_error("IAM Role", "r", "EntityAlreadyExists", address)), _ops) is None


def test_a_role_name_with_hcl_template_marks_is_never_written():
    found = leftovers(_error("IAM Role", "a${file(\"/etc/passwd\")}", "EntityAlreadyExists", "module.x.aws_iam_role.this"))
    assert import_file_text(found, _ops) is None


def test_rendered_files_check_accepts_the_import_blocks_and_nothing_else(org, apps, tmp_path):
    files = render_files(org, apps["web"], make_target("live"))
    write_files(tmp_path, files)
    text = import_file_text(leftovers((OUTPUT / "already_exists.txt").read_text()), _ops)
    imports = tmp_path / "infra/cd/web" / IMPORTS_FILE
    imports.write_text(text)
    assert check_unrendered(tmp_path, files) == []
    imports.write_text(text + 'resource "terraform_data" "extra" {}\n')
    [finding] = check_unrendered(tmp_path, files)
    assert IMPORTS_FILE in finding.detail


def test_imports_show_in_the_plan_summary(tmp_path):
    plan_file = tmp_path / "plan"
    plan_file.write_bytes(b"plan")
    show = {"resource_changes": [
        {"address": "module.deploy_project.aws_iam_role.codebuild", "mode": "managed", "type": "aws_iam_role",
         "change": {"actions": ["no-op"], "importing": {"id": "acme-worker-deploy"}}},
        {"address": "module.deploy_project.aws_iam_role_policy.codebuild", "mode": "managed",
         "type": "aws_iam_role_policy", "change": {"actions": ["create"]}},
    ]}
    summary = summarize(show, root="cd/worker", workdir=tmp_path, plan_file=plan_file)
    assert not summary.is_empty
    assert summary.headline() == "cd/worker: 1 to import, 1 to create, 0 to update, 0 to replace, 0 to delete"
    rows = [str(row) for row in table(summary).columns[0]._cells]
    assert rows == ["create", "import"]
    imports_only = summarize({"resource_changes": show["resource_changes"][:1]}, root="cd/worker", workdir=tmp_path,
                             plan_file=plan_file)
    assert not imports_only.is_empty


def test_a_deploy_roles_resources_live_in_its_workload_account(org):
    engine = Engine(Settings(org=org, target="live"))
    workload = next(iter(org.accounts.workloads.values())).id
    module = engine.roots()[0].files["main.tf"].split('module "deploy_role_', 1)[1].split('"', 1)[0]
    assert engine._account_of(f"module.deploy_role_{module}.aws_iam_role.this") == workload
    assert engine._account_of("module.deploy_project.aws_iam_role.codebuild") == org.accounts.operations.id


def test_every_importable_type_gets_an_id_in_the_regions_partition():
    """Each rule of the import table, called as the engine calls it (the kill -9 test met a rule that was not)."""
    from runbook_lib.terraform.imports import _IMPORT_ID, Leftover

    for kind in _IMPORT_ID:
        leftover = Leftover(f"module.x.{kind}.this", "resource", "acme-web", "EntityAlreadyExists")
        found = leftover.import_id("111111111111", "us-gov-west-1")
        assert found == ("arn:aws-us-gov:iam::111111111111:policy/acme-web" if kind == "aws_iam_policy" else "acme-web")
