"""The whole guide in the sandbox: real Terraform and the real AWS provider against the emulator.

One sandbox for the module; the tests run in order: apply both example apps,
read outputs, prove a second plan is empty and that resources sit in the right
accounts, exercise the gate, a held lock and an interrupted apply, then destroy
everything and prove nothing is left.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading

import pytest

from runbook_lib.cli import main as cli_main
from runbook_lib.errors import TerraformError
from runbook_lib.render import make_target, render_roots
from runbook_lib.sandbox import server
from runbook_lib.sandbox.clients import SandboxSessions
from runbook_lib.terraform.runner import Terraform
from runbook_lib.workflow import Options, WorkflowFailed, apply_all, destroy_all

from .conftest import needs_terraform

pytestmark = [needs_terraform(), pytest.mark.sandbox, pytest.mark.terraform]

OPS, STAGING, PRODUCTION = "111111111111", "222222222222", "333333333333"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sandbox-state")
    previous = os.environ.get(server.SANDBOX_DIR_ENV)
    os.environ[server.SANDBOX_DIR_ENV] = str(directory)
    running = server.start(directory=directory)
    yield running
    server.stop(directory)
    if previous is None:
        os.environ.pop(server.SANDBOX_DIR_ENV, None)
    else:
        os.environ[server.SANDBOX_DIR_ENV] = previous


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("sandbox-out")


@pytest.fixture(scope="module")
def lines():
    return []


def _options(lines, **kw) -> Options:
    return Options(target="sandbox", auto_approve=True, sink=lines.append, **kw)


@pytest.fixture(scope="module")
def aws(sandbox, org):
    return SandboxSessions(sandbox.url, org.region, org.terraform_role_name)


@pytest.fixture(scope="module")
def web_results(sandbox, org, apps, out, lines):
    return apply_all(org, apps["web"], out, _options(lines))


def test_apply_runs_common_then_ci_then_cd(web_results, lines):
    assert [r.root for r in web_results] == ["cicd-common", "ci/web", "cd/web"]
    assert [r.status for r in web_results] == ["applied"] * 3
    steps = [line for line in lines if line.startswith("== step")]
    assert steps == ["== step 1/3: apply cicd-common", "== step 2/3: apply ci/web", "== step 3/3: apply cd/web"]


def test_outputs_are_read_back(web_results, org):
    common, ci, cd = (r.outputs for r in web_results)
    assert common["artifact_bucket_name"] == org.artifact_bucket
    assert common["codestar_connection_parameter"] == "/codestar_connection/GitHub/acme-github"
    assert "not-emulated" in common["codestar_connection_arn"]
    assert ci["ecr_repository_name"] == "acme/web" and ci["ecr_base_mirror_name"] == "acme/web-base"
    assert ci["image_project_name"] == "acme-web-image"
    assert common["deploy_role_arns"] == {
        "staging/acme-staging": f"arn:aws:iam::{STAGING}:role/acme-staging-deploy",
        "staging/acme-staging-west": f"arn:aws:iam::{STAGING}:role/acme-staging-west-deploy",
        "production/acme-production": f"arn:aws:iam::{PRODUCTION}:role/acme-production-deploy",
    }
    assert cd["pipeline_names"] == {"staging": "acme-web-staging", "production": "acme-web-production"}


def test_second_plan_reports_no_changes(web_results, org, apps, out, sandbox):
    target = make_target("sandbox")
    for root in render_roots(org, apps["web"], target):
        tf = Terraform(out / root.path, root=root.name, env=target.terraform_env(), sink=lambda _: None)
        summary = tf.plan()
        assert summary.is_empty, (root.name, [(c.address, c.action, c.attributes) for c in summary.changes
                                              if c.action not in ("no-op", "read")])


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


NOT_EMULATED_IDS = {"common.connection.status", "common.source-credential",
                    "ci.project.image.webhook", "ci.project.manifests.webhook"}


def test_checks_pass_for_everything_the_emulator_hosts(web_results, org, apps, sandbox):
    from runbook_lib.checks import Status, run_checks
    from runbook_lib.checks.sessions import SandboxClients

    results = run_checks(org, apps["web"], SandboxClients(sandbox.url, org.region, org.terraform_role_name), "all")
    by_status = {status: {r.id for r in results if r.status is status} for status in Status}
    assert by_status[Status.FAIL] == set() and by_status[Status.WARN] == set(), \
        [r for r in results if r.status in (Status.FAIL, Status.WARN)]
    assert by_status[Status.NOT_EMULATED] == NOT_EMULATED_IDS
    assert len(by_status[Status.PASS]) >= 35
    assert {"pre.cluster.staging.acme-staging", "common.deploy-role.production.acme-production",
            "ci.ecr.workload-pull", "cd.pipeline.production.deploy.acme-production"} <= by_status[Status.PASS]


def test_a_resource_deleted_behind_the_runbooks_back_fails_the_right_check(web_results, org, apps, sandbox, aws,
                                                                           out, lines):
    from runbook_lib.checks import Status, run_checks
    from runbook_lib.checks.sessions import SandboxClients

    aws.client("ecr", OPS).delete_repository(repositoryName="acme/web-base")
    results = run_checks(org, apps["web"], SandboxClients(sandbox.url, org.region, org.terraform_role_name), "postflight")
    failed = [r for r in results if r.status is Status.FAIL]
    assert [r.id for r in failed] == ["ci.ecr.exists"]
    assert failed[0].found == "missing: acme/web-base"
    assert "Apply the CI root" in failed[0].remedy
    # an engineer in Jupyter puts it back: the plan is shown, nothing happens until Approve is pressed
    from runbook_lib import notebook as rb

    session = rb.start("parameters/org.yaml", "parameters/apps/web.yaml", target="sandbox", out_dir=str(out),
                       auto_approve=False, interactive=True)
    box = rb.plan_and_apply(session, "ci")
    counts = session.plans["ci/web"].counts
    # one repository to create; the projects' data sources wait for it (depends_on), so their
    # resources show as in-place updates that apply as no-ops (the plan afterwards is empty)
    assert counts["create"] == 1 and counts["replace"] == 0 and counts["delete"] == 0
    with pytest.raises(aws.client("ecr", OPS).exceptions.RepositoryNotFoundException):
        aws.client("ecr", OPS).describe_repositories(repositoryNames=["acme/web-base"])
    button = box.children[0]
    button.click()  # applies exactly the saved plan that was shown
    assert button.disabled
    aws.client("ecr", OPS).describe_repositories(repositoryNames=["acme/web-base"])
    target = make_target("sandbox")
    assert Terraform(out / "infra/ci/web", root="ci/web", env=target.terraform_env(), sink=lambda _: None).plan().is_empty


def test_a_plan_with_deletes_stops_without_allow_destroy(web_results, org, apps, out, aws, lines):
    web = apps["web"]
    fewer = web.model_copy(update={"stages": web.stages[:1]})
    with pytest.raises(WorkflowFailed) as exc:
        apply_all(org, fewer, out, _options(lines))
    assert str(exc.value).startswith("apply stopped at step 3/3 (approve cd/web):\n")
    assert "would delete or replace" in str(exc.value)
    assert "module.pipeline_production" in str(exc.value)
    assert "module.deploy_role" not in str(exc.value)  # the cluster's role is not the app's to delete
    assert exc.value.results[-1].root == "cd/web" and exc.value.results[-1].step == "approve"
    pipelines = {p["name"] for p in aws.client("codepipeline", OPS).list_pipelines()["pipelines"]}
    assert "acme-web-production" in pipelines  # nothing was applied
    # put the rendered files back the way the parameters say
    apply_all(org, web, out, _options(lines))


def test_a_held_state_lock_gives_a_clear_message_and_changes_nothing(web_results, aws, org, out):
    s3 = aws.client("s3", OPS)
    key = "cicd-common/terraform.tfstate"
    before = s3.get_object(Bucket=org.state_bucket, Key=key)["Body"].read()
    lock = {"ID": "0b8d6f1e-1111-2222-3333-444455556666", "Operation": "OperationTypeApply", "Info": "",
            "Who": "bob@other-laptop", "Version": "1.11.4", "Created": "2026-11-26T08:00:00Z",
            "Path": f"{org.state_bucket}/{key}"}
    s3.put_object(Bucket=org.state_bucket, Key=key + ".tflock", Body=json.dumps(lock).encode())
    target = make_target("sandbox")
    tf = Terraform(out / "infra/cicd-common", root="cicd-common", env=target.terraform_env(), sink=lambda _: None)
    try:
        with pytest.raises(TerraformError) as exc:
            tf.plan()
        assert "locked by bob@other-laptop" in str(exc.value)
        assert "`runbook unlock cicd-common 0b8d6f1e-1111-2222-3333-444455556666`" in str(exc.value)
        assert s3.get_object(Bucket=org.state_bucket, Key=key)["Body"].read() == before
        # the run that held it is gone: release it the way the message says
        assert cli_main(["unlock", "cicd-common", lock["ID"], "--target", "sandbox", "--out", str(out)]) == 0
        with pytest.raises(s3.exceptions.ClientError):
            s3.head_object(Bucket=org.state_bucket, Key=key + ".tflock")
        assert s3.get_object(Bucket=org.state_bucket, Key=key)["Body"].read() == before
    finally:
        s3.delete_object(Bucket=org.state_bucket, Key=key + ".tflock")
    assert tf.plan().is_empty


def test_interrupted_apply_converges_on_rerun(web_results, org, apps, out, lines):
    workdir = (out / "infra/ci/worker").resolve()
    stopped = threading.Event()

    def sink(line: str) -> None:
        lines.append(line)
        if line.startswith("[ci/worker]") and "Creation complete" in line and not stopped.is_set():
            stopped.set()
            subprocess.run(["pkill", "-TERM", "-f", f"chdir={workdir} apply"], check=False)

    with pytest.raises(WorkflowFailed) as exc:
        apply_all(org, apps["worker"], out, Options(target="sandbox", auto_approve=True, sink=sink))
    assert stopped.is_set()
    assert "ci/worker" in str(exc.value)
    try:
        results = apply_all(org, apps["worker"], out, _options(lines))
    except WorkflowFailed as again:
        # SIGTERM can land while a resource is being created: Terraform keeps that object as
        # tainted and plans to replace it, and the gate stops every replacement until allowed
        listed = [line for line in str(again).splitlines() if line.startswith("  - ")]
        assert listed, str(again)
        for line in listed:
            assert line.startswith("  - replace: module.") and line.endswith(
                "(tainted: an earlier apply did not finish creating it)"), str(again)
        results = apply_all(org, apps["worker"], out, _options(lines, allow_destroy=True))
    assert [r.status for r in results] == ["no changes", "applied", "applied"]  # common was already there
    target = make_target("sandbox")
    for root in render_roots(org, apps["worker"], target)[1:]:
        assert Terraform(out / root.path, root=root.name, env=target.terraform_env(), sink=lambda _: None).plan().is_empty


def test_destroy_leaves_nothing_behind(web_results, org, apps, out, aws, lines):
    worker = destroy_all(org, apps["worker"], out, _options(lines))
    assert [r.root for r in worker] == ["cd/worker", "ci/worker"]  # the shared root stays
    results = destroy_all(org, apps["web"], out, _options(lines), include_common=True)
    assert [r.root for r in results] == ["cd/web", "ci/web", "cicd-common"]
    assert [r.status for r in results] == ["destroyed"] * 3
    assert aws.client("ecr", OPS).describe_repositories()["repositories"] == []
    assert aws.client("codebuild", OPS).list_projects()["projects"] == []
    assert aws.client("codepipeline", OPS).list_pipelines()["pipelines"] == []
    assert [b["Name"] for b in aws.client("s3", OPS).list_buckets()["Buckets"]] == [org.state_bucket]
    for account in (OPS, STAGING, PRODUCTION):
        roles = [r["RoleName"] for r in aws.client("iam", account).list_roles()["Roles"]]
        assert roles == [org.terraform_role_name], (account, roles)
    params = [p["Name"] for p in aws.client("ssm", OPS).describe_parameters()["Parameters"]]
    assert params == [org.github_token_parameter]
