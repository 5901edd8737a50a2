"""The whole guide in the sandbox: real Terraform and the real AWS provider against the emulator.

These tests continue in the suite's sandbox (see ``suite_sandbox`` in conftest): the
notebooks and the batch run have applied both example apps there. In order: an apply
finds nothing to change (the second plan) and reads the outputs back, resources sit in
the right accounts, every check the emulator hosts passes, the gate stops a plan that
deletes, and a held lock is reported and released. An interrupted apply, its re-run and
destroying everything are in test_interrupts.py, on a sandbox of their own.
"""

from __future__ import annotations

import json

import pytest

from runbook_lib.cli import main as cli_main
from runbook_lib.engine import Engine, Settings
from runbook_lib.errors import TerraformError
from runbook_lib.results import Outcome
from runbook_lib.targets import make_target
from runbook_lib.terraform.runner import Terraform, plan_path

from .conftest import needs_terraform

pytestmark = [needs_terraform(), pytest.mark.sandbox, pytest.mark.terraform]

OPS, STAGING, PRODUCTION = "111111111111", "222222222222", "333333333333"


@pytest.fixture(scope="module")
def sandbox(suite_sandbox, batch_run):
    return suite_sandbox   # the batch (and, under make test, the notebooks) applied both apps here


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("sandbox-out")


@pytest.fixture(scope="module")
def lines():
    return []


def _engine(org, app, out, lines, *, sink=None, **kw) -> Engine:
    return Engine(Settings(org, app, target="sandbox", out=out, auto_approve=True, **kw), sink=sink or lines.append)


@pytest.fixture(scope="module")
def aws(sandbox, suite_aws):
    return suite_aws


@pytest.fixture(scope="module")
def web_results(sandbox, org, apps, out, lines):
    return _engine(org, apps["web"], out, lines).apply_all()


def test_apply_of_an_applied_app_changes_nothing(web_results, lines, out):
    """Common, then CI, then CD, each planned: what the notebooks applied plans empty (the second plan)."""
    assert [r.root for r in web_results] == ["cicd-common", "ci/web", "cd/web"]
    assert [r.outcome for r in web_results] == [Outcome.NO_CHANGES] * 3, [r.reason for r in web_results]
    steps = [line for line in lines if line.startswith("== step")]
    assert steps == ["== step 1/3: apply cicd-common", "== step 2/3: apply ci/web", "== step 3/3: apply cd/web"]
    for root in ("cicd-common", "ci/web", "cd/web"):  # an empty plan is not kept: it embeds prior state
        assert (out / "infra" / root / "main.tf").is_file() and not plan_path(out / "infra" / root).exists()


def test_outputs_are_read_back(web_results, org):
    common, ci, cd = (r.outputs for r in web_results)
    assert common["artifact_bucket_name"] == org.artifact_bucket
    assert common["codestar_connection_parameter"] == "/codestar_connection/GitHub/acme-github"
    assert common["codestar_connection_arn"].startswith(f"arn:aws:codestar-connections:us-east-1:{OPS}:connection/")
    assert ci["ecr_repository_name"] == "acme/web" and ci["ecr_base_mirror_name"] == "acme/web-base"
    assert ci["image_project_name"] == "acme-web-image"
    assert common["deploy_role_arns"] == {
        "staging/acme-staging": f"arn:aws:iam::{STAGING}:role/acme-staging-deploy",
        "staging/acme-staging-west": f"arn:aws:iam::{STAGING}:role/acme-staging-west-deploy",
        "production/acme-production": f"arn:aws:iam::{PRODUCTION}:role/acme-production-deploy",
    }
    assert cd["pipeline_names"] == {"staging": "acme-web-staging", "production": "acme-web-production"}


def test_resources_live_in_the_right_accounts(web_results, aws, org):
    s3 = aws.client("s3", OPS)
    assert s3.get_bucket_versioning(Bucket=org.artifact_bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=org.artifact_bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    repos = {r["repositoryName"]: r for r in aws.client("ecr", OPS).describe_repositories()["repositories"]}
    assert repos["acme/web"]["imageTagMutability"] == "IMMUTABLE" and "acme/web-base" in repos
    projects = aws.client("codebuild", OPS).batch_get_projects(
        names=["acme-web-image", "acme-web-manifests", "acme-web-deploy"])["projects"]
    assert {p["name"] for p in projects} == {"acme-web-image", "acme-web-manifests", "acme-web-deploy"}
    image = next(p for p in projects if p["name"] == "acme-web-image")
    assert image["environment"]["privilegedMode"] is True
    pipelines = {p["name"] for p in aws.client("codepipeline", OPS).list_pipelines()["pipelines"]}
    assert {"acme-web-staging", "acme-web-production"} <= pipelines
    staging_role = aws.client("iam", STAGING).get_role(RoleName="acme-staging-deploy")["Role"]
    assert {"Key": "deployTo", "Value": "acme-staging"} in staging_role.get("Tags", [])
    iam_ops = aws.client("iam", OPS)
    with pytest.raises(iam_ops.exceptions.NoSuchEntityException):
        iam_ops.get_role(RoleName="acme-staging-deploy")  # not in the Operations account
    with pytest.raises(aws.client("iam", PRODUCTION).exceptions.NoSuchEntityException):
        aws.client("iam", PRODUCTION).get_role(RoleName="acme-staging-deploy")


def test_checks_pass_for_everything_the_emulator_hosts(web_results, org, apps, sandbox):
    from runbook_lib.checks import Status, run_checks
    from runbook_lib.checks.sessions import SandboxClients

    from runbook_lib.sandbox.console import complete_handshake

    clients = SandboxClients(sandbox.url, org.region, org.terraform_role_name)
    # The check reads what the emulator holds: FAIL while the connection is PENDING (as apply leaves it),
    # PASS once the handshake is done (notebook 01 did it already when the suite's notebooks ran first).
    held = clients.client("codestar-connections", org.accounts.operations.id).list_connections()["Connections"]
    [status] = [c["ConnectionStatus"] for c in held if c["ConnectionName"] == org.codestar_connection_name]
    before = {r.id: r for r in run_checks(org, apps["web"], clients, "postflight", ("common",))}
    assert before["common.connection.status"].found == status
    assert before["common.connection.status"].status is (Status.PASS if status == "AVAILABLE" else Status.FAIL)
    complete_handshake(org.accounts.operations.id, org.region, org.codestar_connection_name, endpoint=sandbox.url)
    results = run_checks(org, apps["web"], clients, "all")
    by_status = {status: {r.id for r in results if r.status is status} for status in Status}
    assert by_status[Status.FAIL] == set() and by_status[Status.WARN] == set(), \
        [r for r in results if r.status in (Status.FAIL, Status.WARN)]
    assert by_status[Status.NOT_EMULATED] == set()
    assert len(by_status[Status.PASS]) >= 35
    assert {"pre.cluster.staging.acme-staging", "common.deploy-role.production.acme-production",
            "ci.ecr.workload-pull", "cd.pipeline.production.deploy.acme-production"} <= by_status[Status.PASS]


def test_a_plan_with_deletes_stops_without_allow_destroy(web_results, org, apps, out, aws, lines):
    web = apps["web"]
    fewer = _engine(org, web.model_copy(update={"stages": web.stages[:1]}), out, lines)
    fewer.render()
    result = fewer.run_root("cd")
    assert result.outcome is Outcome.STOPPED and result.step == "approve"
    assert "would delete or replace" in result.reason
    assert "module.pipeline_production" in result.reason
    assert "module.deploy_role" not in result.reason  # the cluster's role is not the app's to delete
    assert not result.changed
    assert not plan_path(out / "infra/cd/web").exists()  # a plan that will not be applied is not kept
    pipelines = {p["name"] for p in aws.client("codepipeline", OPS).list_pipelines()["pipelines"]}
    assert "acme-web-production" in pipelines  # nothing was applied
    _engine(org, web, out, lines).render()   # the rendered files back the way the parameters say


def test_a_held_state_lock_gives_a_clear_message_and_changes_nothing(web_results, aws, org, out):
    s3 = aws.client("s3", OPS)
    key = "ci/web/terraform.tfstate"   # an app root: its plan costs a third of the common root's
    before = s3.get_object(Bucket=org.state_bucket, Key=key)["Body"].read()
    lock = {"ID": "0b8d6f1e-1111-2222-3333-444455556666", "Operation": "OperationTypeApply", "Info": "",
            "Who": "bob@other-laptop", "Version": "1.11.4", "Created": "2026-11-26T08:00:00Z",
            "Path": f"{org.state_bucket}/{key}"}
    s3.put_object(Bucket=org.state_bucket, Key=key + ".tflock", Body=json.dumps(lock).encode())
    target = make_target("sandbox")
    tf = Terraform(out / "infra/ci/web", root="ci/web", env=target.terraform_env(), sink=lambda _: None)
    try:
        with pytest.raises(TerraformError) as exc:
            tf.plan()
        assert "locked by bob@other-laptop" in str(exc.value)
        assert "`runbook unlock ci/web 0b8d6f1e-1111-2222-3333-444455556666`" in str(exc.value)
        assert s3.get_object(Bucket=org.state_bucket, Key=key)["Body"].read() == before
        # the run that held it is gone: release it the way the message says
        assert cli_main(["unlock", "ci/web", lock["ID"], "--app", "parameters/apps/web.yaml", "--target", "sandbox",
                         "--out", str(out)]) == 0
        with pytest.raises(s3.exceptions.ClientError):
            s3.head_object(Bucket=org.state_bucket, Key=key + ".tflock")
        assert s3.get_object(Bucket=org.state_bucket, Key=key)["Body"].read() == before
    finally:
        s3.delete_object(Bucket=org.state_bucket, Key=key + ".tflock")
    assert tf.plan().is_empty
