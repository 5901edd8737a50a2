"""The boto3 checks against a real sandbox server: every check's failing path, and preflight's passing path.

No Terraform runs here (the PASS path of every postflight check is proven by the
full apply in test_sandbox_lifecycle.py). One emulator serves the whole module;
each test resets it (moto's /moto-api/reset), seeds what it needs and builds a
broken state by hand with boto3, then runs the checks through
``runbook_lib.checks.sessions.SandboxClients`` exactly as ``runbook check`` does.

``build_all`` creates, by hand, a state that every postflight check accepts
(``test_hand_built_state_passes`` proves it), so each failing test breaks one
thing and can show that exactly the check for that thing fails.

Where the library is wrong (a PASS it should not give, a traceback instead of a
result, a misleading message), the test states the right behaviour and is marked
``xfail(strict=True)`` with the reason.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
from dataclasses import dataclass, field

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from rich.console import Console

from .tiers import missing
from runbook_lib import cli
from runbook_lib.checks import Context, Status, run_checks, table, to_html, to_json
from runbook_lib.checks import links
from runbook_lib.checks.postflight import (
    CD,
    CI,
    COMMON,
    check_artifact_bucket,
    check_ci_projects,
    check_connection,
    check_cluster_access,
    check_deploy_project,
    check_deploy_roles,
    check_ecr,
    check_pipelines,
    check_source_credential,
)
from runbook_lib.checks.preflight import (
    PREFLIGHT,
    check_clusters,
    check_identity,
    check_region,
    check_state_bucket,
    check_terraform,
    check_token_parameter,
)
from runbook_lib.checks import sessions as check_sessions
from runbook_lib.checks.sessions import SandboxClients
from runbook_lib.resolved import resolve
from runbook_lib.sandbox import server
from runbook_lib.sandbox import clients as sandbox_clients
from runbook_lib.sandbox.console import complete_handshake
from runbook_lib.sandbox.emulated.codestarconnections.models import CodeStarConnectionsBackend
from runbook_lib.sandbox.seed import seed
from runbook_lib.terraform.binary import MIRROR_ENV

from .conftest import APP_FILES, ORG_FILE, needs_terraform

pytestmark = [pytest.mark.sandbox]

OPS, STAGING, PRODUCTION = "111111111111", "222222222222", "333333333333"
CONNECTION_PARAMETER = "/codestar_connection/GitHub/acme-github"
# The ARN the sandbox gives the first connection of that name (its ids are derived, not random).
CONNECTION_ARN = CodeStarConnectionsBackend("us-east-1", OPS)._arn("acme-github")
GITHUB_TOKEN = "ghp_checksprobe0123456789abcdef"
IMAGE_PROJECT, MANIFESTS_PROJECT, DEPLOY_PROJECT = "acme-web-image", "acme-web-manifests", "acme-web-deploy"
PIPELINES = {"staging": "acme-web-staging", "production": "acme-web-production"}
DEPLOY_PROJECT_ROLE = "acme-web-deploy-codebuild"
PIPELINE_ROLE = "acme-web-pipeline-role"
WEB_FILE = next(p for p in APP_FILES if p.stem == "web")
READ_ONLY = re.compile(r"(Describe|Get|List|BatchGet)[A-Za-z]*|HeadBucket|GetCallerIdentity")


# -- the sandbox ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    directory = tmp_path_factory.mktemp("checks-sandbox")
    running = server.start(directory=directory)
    yield running
    server.stop(directory)


def _reset(url: str) -> None:
    """Empty every account (the sandbox's own reset route, which takes its key)."""
    from runbook_lib.sandbox.serve import RESET_PATH

    assert server.post_json(url, RESET_PATH, {}, 30, "reset refused: {problem}", "reset unanswered") == {"reset": True}


@dataclass
class Env:
    """One test's view of the (freshly reset) sandbox: clients for building state and for checking."""

    url: str
    org: object
    app: object
    clients: SandboxClients = field(init=False)

    def __post_init__(self):
        # New clients after every reset: assumed-role credentials do not survive a reset.
        self.clients = SandboxClients(self.url, self.org.region, self.org.terraform_role_name)

    def client(self, service: str, account: str = OPS, region: str | None = None):
        """A client to build state with: the same per-account sessions the checks use."""
        return self.clients.client(service, account, region)

    def run(self, *checks, clients=None) -> dict:
        """Run check functions for the web app; results by id."""
        ctx = Context(self.org, self.app, clients or self.clients)
        results = [r for check in checks for r in check(ctx)]
        by_id = {r.id: r for r in results}
        assert len(by_id) == len(results), "check ids must be unique within a run"
        return by_id


@pytest.fixture
def env(sandbox, org, apps) -> Env:
    """An empty, unseeded sandbox (postflight needs nothing from the seed: the emulator lets any role be assumed)."""
    _reset(sandbox.url)
    yield Env(sandbox.url, org, apps["web"])


@pytest.fixture
def seeded(env, org) -> Env:
    """A sandbox seeded like `runbook sandbox start --org`: roles, state bucket, token parameter, clusters."""
    seed(org, env.url)
    return env


def assert_fails(result, *, found: str | None = None, link: str | None = None, status=Status.FAIL):
    assert result.status is status, result
    assert result.remedy.strip(), f"{result.id}: a failing check must say what to do"
    if found is not None:
        assert found in result.found, f"{result.id}: found {result.found!r}, expected it to mention {found!r}"
    if link is not None:
        assert result.link == link, result


def assert_passes(result):
    assert result.status is Status.PASS, result


# -- building state by hand ---------------------------------------------------------------
def _trust(principal: str, cluster: str | None) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if cluster:
        statement["Condition"] = {"StringEquals": {f"aws:PrincipalTag/cluster.{cluster}.deploy": "true"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def make_artifact_bucket(env: Env, *, versioning=True, encryption=True, public_block=True):
    s3 = env.client("s3")
    bucket = env.org.artifact_bucket
    s3.create_bucket(Bucket=bucket)
    if versioning:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if encryption:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    if public_block:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})


def put_connection_parameter(env: Env, *, available: bool = True):
    """The connection (PENDING, as Terraform leaves it) and its parameter; ``available``: handshake completed too."""
    arn = env.client("codestar-connections").create_connection(ProviderType="GitHub", ConnectionName="acme-github")[
        "ConnectionArn"]
    assert arn == CONNECTION_ARN
    env.client("ssm").put_parameter(Name=CONNECTION_PARAMETER, Type="String", Value=arn)
    if available:
        complete_handshake(OPS, "us-east-1", "acme-github", endpoint=env.url)


def import_source_credential(env: Env):
    env.client("codebuild").import_source_credentials(token=GITHUB_TOKEN, serverType="GITHUB",
                                                      authType="PERSONAL_ACCESS_TOKEN")


PR_EVENTS = [[{"type": "EVENT", "pattern": "PULL_REQUEST_CREATED,PULL_REQUEST_UPDATED"}]]


def make_deploy_role(env: Env, cluster: str, account: str, *, deploy_to: str | None = None, trust: str | None = None,
                     role_name: str | None = None):
    env.client("iam", account).create_role(
        RoleName=role_name or f"{cluster}-deploy",
        AssumeRolePolicyDocument=trust or _trust(f"arn:aws:iam::{OPS}:root", cluster),
        Tags=[{"Key": "deployTo", "Value": deploy_to or cluster}])


def make_deploy_roles(env: Env):
    make_deploy_role(env, "acme-staging", STAGING)
    make_deploy_role(env, "acme-production", PRODUCTION)


def make_cluster_access(env: Env, *, skip: str | None = None):
    """The clusters (seeded in a real run) and the access entry the common root gives each deploy role."""
    from runbook_lib.naming import eks_deploy_access_policy

    for cluster, account in (("acme-staging", STAGING), ("acme-production", PRODUCTION)):
        eks = env.client("eks", account)
        if cluster not in eks.list_clusters()["clusters"]:   # a seeded sandbox has them already
            eks.create_cluster(name=cluster, roleArn=f"arn:aws:iam::{account}:role/eks",
                               resourcesVpcConfig={"subnetIds": []})
        if cluster == skip:
            continue
        role = f"arn:aws:iam::{account}:role/{cluster}-deploy"
        eks.create_access_entry(clusterName=cluster, principalArn=role)
        eks.associate_access_policy(clusterName=cluster, principalArn=role, policyArn=eks_deploy_access_policy("us-east-1"),
                                    accessScope={"type": "cluster"})


def make_ecr(env: Env, *, mutability="IMMUTABLE", base=True, policy=True):
    ecr = env.client("ecr")
    names = ["acme/web"] + (["acme/web-base"] if base else [])
    for name in names:
        ecr.create_repository(repositoryName=name, imageTagMutability=mutability)
    if policy:
        ecr.set_repository_policy(repositoryName="acme/web", policyText=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "WorkloadPull", "Effect": "Allow",
                           "Principal": {"AWS": [f"arn:aws:iam::{STAGING}:root", f"arn:aws:iam::{PRODUCTION}:root"]},
                           "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}))


def _project(name: str, location: str, *, privileged: bool, env_vars: dict, role: str, secondary: str | None = None):
    project = {
        "name": name,
        "source": {"type": "GITHUB", "location": location},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                        "computeType": "BUILD_GENERAL1_SMALL", "privilegedMode": privileged,
                        "environmentVariables": [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in env_vars.items()]},
        "serviceRole": f"arn:aws:iam::{OPS}:role/{role}",
    }
    if secondary:
        project["secondarySources"] = [{"type": "GITHUB", "location": secondary, "sourceIdentifier": "source"}]
    return project


def good_projects() -> dict[str, dict]:
    ecr = {"ECR_REPOSITORY_NAME": "acme/web"}
    return {
        "image": _project(IMAGE_PROJECT, "https://github.com/acme-co/web.git", privileged=True, env_vars=ecr,
                          role="acme-web-image-codebuild"),
        "manifests": _project(MANIFESTS_PROJECT, "https://github.com/acme-co/web-manifests.git", privileged=False,
                              env_vars=ecr, role="acme-web-manifests-codebuild",
                              secondary="https://github.com/acme-co/web.git"),
        "deploy": _project(DEPLOY_PROJECT, "https://github.com/acme-co/web-manifests.git", privileged=False,
                           env_vars={}, role=DEPLOY_PROJECT_ROLE),
    }


def make_projects(env: Env, projects: dict[str, dict] | None = None, *, deploy_role_tags=("acme-staging", "acme-production")):
    projects = good_projects() if projects is None else projects
    codebuild = env.client("codebuild")
    for project in projects.values():
        codebuild.create_project(**project)
    if {"image", "manifests"} & set(projects):   # their modules add a pull-request webhook (needs a credential)
        import_source_credential(env)
        for kind in ("image", "manifests"):
            if kind in projects:
                codebuild.create_webhook(projectName=projects[kind]["name"], filterGroups=PR_EVENTS)
    if "deploy" in projects:
        env.client("iam").create_role(
            RoleName=DEPLOY_PROJECT_ROLE,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            Tags=[{"Key": f"cluster.{c}.deploy", "Value": "true"} for c in deploy_role_tags] or [{"Key": "app", "Value": "web"}])


def good_pipeline(env: Env, stage_name: str) -> dict:
    """The pipeline the CD root would create for one stage, as a create_pipeline request."""
    r = resolve(env.org, env.app)
    stage = next(s for s in r.stages if s.name == stage_name)

    def source(name, repo, branch, artifact):
        return {"name": name, "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection",
                                               "version": "1"},
                "configuration": {"ConnectionArn": CONNECTION_ARN, "FullRepositoryId": repo, "BranchName": branch},
                "outputArtifacts": [{"name": artifact}]}

    def build(name, project, inputs, env_vars=None):
        configuration = {"ProjectName": project}
        if env_vars is not None:
            configuration["EnvironmentVariables"] = json.dumps(
                [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in env_vars.items()])
        return {"name": name, "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                "configuration": configuration, "inputArtifacts": [{"name": i} for i in inputs]}

    deploy_actions = [
        build(dep.action, DEPLOY_PROJECT, ["compiled_manifests"], {
            "DEPLOY_ROLE_ARN": dep.target.role_arn, "EKS_CLUSTER_NAME": dep.cluster, "EKS_CLUSTER_REGION": dep.region,
            "MANIFEST_PATH": dep.manifest_path, **{k.upper(): v for k, v in stage.deploy_env_vars.items()}})
        for dep in stage.deployments
    ]
    return {
        "name": PIPELINES[stage_name],
        "roleArn": f"arn:aws:iam::{OPS}:role/{PIPELINE_ROLE}",
        "artifactStore": {"type": "S3", "location": env.org.artifact_bucket},
        "stages": [
            {"name": "Source", "actions": [source("Source", "acme-co/web", stage.branch, "source"),
                                           source("Manifests", "acme-co/web-manifests", stage.manifests_branch, "manifests")]},
            {"name": "Build", "actions": [build("Docker", IMAGE_PROJECT, ["source"]),
                                          build("Manifests", MANIFESTS_PROJECT, ["manifests", "source"])]},
            {"name": "Deploy", "actions": deploy_actions},
        ],
    }


def make_pipeline(env: Env, pipeline: dict):
    iam = env.client("iam")
    try:
        iam.get_role(RoleName=PIPELINE_ROLE)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=PIPELINE_ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    env.client("codepipeline").create_pipeline(pipeline=pipeline)


def build_all(env: Env):
    """Everything the three roots create for the web app, made by hand."""
    make_artifact_bucket(env)
    put_connection_parameter(env)
    make_deploy_roles(env)
    make_cluster_access(env)
    make_ecr(env)
    make_projects(env)
    for stage in PIPELINES:
        make_pipeline(env, good_pipeline(env, stage))


def test_names_match_the_resolved_parameters(org, apps):
    """The literal names used here are the ones the library derives (a rename must fail loudly here)."""
    r = resolve(org, apps["web"])
    assert (r.image_project_name, r.manifests_project_name, r.deploy_project_name) == (IMAGE_PROJECT, MANIFESTS_PROJECT, DEPLOY_PROJECT)
    assert {s.name: s.pipeline_name for s in r.stages} == PIPELINES
    assert [(t.account_id, t.role_name) for t in r.deploy_targets] == [(STAGING, "acme-staging-deploy"),
                                                                       (PRODUCTION, "acme-production-deploy")]
    assert org.accounts.operations.id == OPS


def test_hand_built_state_passes(env):
    """The baseline every failing test breaks one piece of: every postflight check passes, none is left out."""
    build_all(env)
    results = env.run(*COMMON, *CI, *CD)
    not_passing = {i: (r.status.value, r.found) for i, r in results.items() if r.status is not Status.PASS}
    assert not not_passing
    assert {"common.connection.status", "common.source-credential", "ci.project.image.webhook",
            "ci.project.manifests.webhook"} <= set(results)


# -- preflight ----------------------------------------------------------------------------
def test_preflight_passes_in_a_seeded_sandbox(seeded):
    checks = [check_identity, check_region, check_token_parameter, check_state_bucket, check_clusters]
    results = seeded.run(*checks)
    assert set(results) == {"pre.identity.operations", "pre.identity.staging", "pre.identity.production",
                            "pre.region-enabled", "pre.github-token-parameter", "pre.state-bucket",
                            "pre.cluster.staging.acme-staging", "pre.cluster.production.acme-production"}
    for r in results.values():
        assert_passes(r)
    assert results["pre.identity.staging"].found == STAGING
    assert results["pre.github-token-parameter"].found == "SecureString"
    assert results["pre.cluster.production.acme-production"].found == "ACTIVE"


def test_preflight_without_app_checks_every_declared_cluster(seeded):
    ids = {r.id: r for r in check_clusters(Context(seeded.org, None, seeded.clients))}
    assert set(ids) == {"pre.cluster.staging.acme-staging", "pre.cluster.staging.acme-staging-west",
                        "pre.cluster.production.acme-production"}
    assert all(r.status is Status.PASS for r in ids.values())


@needs_terraform()
def test_preflight_terraform_passes_with_the_mirror(tmp_path, monkeypatch):
    if not os.path.isdir("/opt/tf-plugins"):
        missing("no provider mirror on this machine")
    monkeypatch.setenv(MIRROR_ENV, "/opt/tf-plugins")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("RUNBOOK_TERRAFORM", raising=False)
    results = {r.id: r for r in check_terraform(None)}
    assert_passes(results["pre.terraform"])
    assert_passes(results["pre.aws-provider"])
    assert "5.100.0" in results["pre.aws-provider"].found.split(", ")


class AnswersFrom:
    """Clients that, for STS in one account, answer from another: credentials that reach the wrong account."""

    def __init__(self, inner, asked: str, answering: str):
        self.inner, self.asked, self.answering = inner, asked, answering

    def client(self, service, account_id, region=None):
        if service == "sts" and account_id == self.asked:
            account_id = self.answering
        return self.inner.client(service, account_id, region)


def test_identity_fails_when_credentials_reach_another_account(seeded):
    results = seeded.run(check_identity, clients=AnswersFrom(seeded.clients, STAGING, PRODUCTION))
    assert_passes(results["pre.identity.operations"])
    assert_passes(results["pre.identity.production"])
    bad = results["pre.identity.staging"]
    assert_fails(bad, found=PRODUCTION, link=links.CREDENTIALS)
    assert bad.expected == STAGING
    assert f"reach account {PRODUCTION}, not {STAGING}" in bad.remedy


class StubbedEc2:
    """The sandbox's clients, except EC2, which answers from a botocore Stubber."""

    def __init__(self, inner, ec2):
        self.inner, self.ec2 = inner, ec2

    def client(self, service, account_id, region=None):
        return self.ec2 if service == "ec2" else self.inner.client(service, account_id, region)


def _fake_credentials_client(service):
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         region_name="us-east-1").client(service)


@pytest.mark.parametrize("opt_in, status", [("not-opted-in", Status.FAIL), ("opted-in", Status.PASS)])
def test_region_enabled_reads_the_opt_in_status(seeded, opt_in, status):
    ec2 = _fake_credentials_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response("describe_regions", {"Regions": [
            {"RegionName": "eu-west-1", "Endpoint": "ec2.eu-west-1.amazonaws.com", "OptInStatus": "opt-in-not-required"},
            {"RegionName": "us-east-1", "Endpoint": "ec2.us-east-1.amazonaws.com", "OptInStatus": opt_in},
        ]}, {"AllRegions": True})
        result = seeded.run(check_region, clients=StubbedEc2(seeded.clients, ec2))["pre.region-enabled"]
        stub.assert_no_pending_responses()
    assert result.status is status
    assert result.found == opt_in
    if status is Status.FAIL:
        assert_fails(result, found="not-opted-in", link=links.REGIONS)
        assert "Enable us-east-1" in result.remedy


def test_region_enabled_fails_when_the_region_is_not_listed(seeded):
    ec2 = _fake_credentials_client("ec2")
    with Stubber(ec2) as stub:
        stub.add_response("describe_regions", {"Regions": [{"RegionName": "eu-west-1", "OptInStatus": "opt-in-not-required"}]},
                          {"AllRegions": True})
        result = seeded.run(check_region, clients=StubbedEc2(seeded.clients, ec2))["pre.region-enabled"]
        stub.assert_no_pending_responses()
    assert_fails(result, found="unknown", link=links.REGIONS)


def _fake_terraform(tmp_path, stdout: str):
    script = tmp_path / "terraform"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{stdout}\nEOF\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def test_terraform_too_old_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(_fake_terraform(tmp_path, '{"terraform_version": "1.5.7"}')))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    results = {r.id: r for r in check_terraform(None)}
    assert_fails(results["pre.terraform"], found="1.5.7", link="https://developer.hashicorp.com/terraform/install")
    assert "too old" in results["pre.terraform"].found
    assert "1.10" in results["pre.terraform"].remedy


def test_terraform_missing_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(tmp_path / "no-such-terraform"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    results = {r.id: r for r in check_terraform(None)}
    assert_fails(results["pre.terraform"], found="not found")


def test_terraform_without_json_version_output_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(_fake_terraform(tmp_path, "Terraform v0.12.31")))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    results = {r.id: r for r in check_terraform(None)}
    assert_fails(results["pre.terraform"])


@needs_terraform()
def test_aws_provider_fails_with_an_empty_mirror(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNBOOK_TERRAFORM", raising=False)
    mirror = tmp_path / "empty-mirror"
    mirror.mkdir()
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    results = {r.id: r for r in check_terraform(None)}
    assert_passes(results["pre.terraform"])
    assert_fails(results["pre.aws-provider"], found="none")
    assert str(mirror) in results["pre.aws-provider"].resource
    assert MIRROR_ENV in results["pre.aws-provider"].remedy


@needs_terraform()
def test_aws_provider_fails_with_a_mirror_of_another_version(tmp_path, monkeypatch):
    """5.99.0 is on the same line, but the roots require exactly the pinned version: init would fail."""
    monkeypatch.delenv("RUNBOOK_TERRAFORM", raising=False)
    mirror = tmp_path / "old-mirror"
    (mirror / "registry.terraform.io/hashicorp/aws/5.99.0/linux_amd64").mkdir(parents=True)
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    results = {r.id: r for r in check_terraform(None)}
    assert_fails(results["pre.aws-provider"], found="5.99.0")
    assert results["pre.aws-provider"].expected == "hashicorp/aws 5.100.0"


@needs_terraform()
def test_aws_provider_warns_without_a_mirror(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNBOOK_TERRAFORM", raising=False)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    results = {r.id: r for r in check_terraform(None)}
    assert_fails(results["pre.aws-provider"], found="registry", status=Status.WARN)
    assert MIRROR_ENV in results["pre.aws-provider"].remedy


def test_unseeded_sandbox_fails_token_state_bucket_and_clusters(env):
    results = env.run(check_token_parameter, check_state_bucket, check_clusters)
    assert_fails(results["pre.github-token-parameter"], found="missing", link=links.SSM_PARAMETERS)
    assert "--type SecureString" in results["pre.github-token-parameter"].remedy
    assert_fails(results["pre.state-bucket"], found="missing", link=links.S3_VERSIONING)
    assert "acme-terraform-state" in results["pre.state-bucket"].remedy
    for cluster in ("pre.cluster.staging.acme-staging", "pre.cluster.production.acme-production"):
        assert_fails(results[cluster], found="missing", link=links.EKS_CLUSTERS)


def test_token_parameter_missing_fails(seeded):
    seeded.client("ssm").delete_parameter(Name=seeded.org.github_token_parameter)
    results = seeded.run(check_token_parameter, check_state_bucket)
    assert_fails(results["pre.github-token-parameter"], found="missing", link=links.SSM_PARAMETERS)
    assert_passes(results["pre.state-bucket"])


def test_token_parameter_as_plain_string_warns(seeded):
    ssm = seeded.client("ssm")
    ssm.delete_parameter(Name=seeded.org.github_token_parameter)
    ssm.put_parameter(Name=seeded.org.github_token_parameter, Type="String", Value="ghp_sandboxplain")
    result = seeded.run(check_token_parameter)["pre.github-token-parameter"]
    assert_fails(result, found="String", link=links.SSM_PARAMETERS, status=Status.WARN)
    assert "SecureString" in result.remedy


def test_state_bucket_missing_fails(seeded):
    s3 = seeded.client("s3")
    s3.delete_bucket(Bucket=seeded.org.state_bucket)
    result = seeded.run(check_state_bucket)["pre.state-bucket"]
    assert_fails(result, found="missing", link=links.S3_VERSIONING)


def test_cluster_missing_fails_only_for_that_cluster(seeded):
    seeded.client("eks", PRODUCTION).delete_cluster(name="acme-production")
    results = seeded.run(check_clusters)
    assert_passes(results["pre.cluster.staging.acme-staging"])
    bad = results["pre.cluster.production.acme-production"]
    assert_fails(bad, found="missing", link=links.EKS_CLUSTERS)
    assert "accounts.workloads.production.clusters" in bad.remedy


def test_cluster_in_the_wrong_account_does_not_count(seeded):
    seeded.client("eks", PRODUCTION).delete_cluster(name="acme-production")
    seeded.client("eks", STAGING).create_cluster(name="acme-production", roleArn=f"arn:aws:iam::{STAGING}:role/x",
                                              resourcesVpcConfig={"subnetIds": []})
    assert_fails(seeded.run(check_clusters)["pre.cluster.production.acme-production"], found="missing")


# -- postflight: common root --------------------------------------------------------------
def test_artifact_bucket_missing_fails(env):
    results = env.run(check_artifact_bucket)
    assert set(results) == {"common.artifact-bucket.exists"}
    assert_fails(results["common.artifact-bucket.exists"], found="missing", link=links.S3_VERSIONING)
    assert "runbook apply" in results["common.artifact-bucket.exists"].remedy


def test_artifact_bucket_made_by_hand_fails_versioning_encryption_and_public_access(env):
    make_artifact_bucket(env, versioning=False, encryption=False, public_block=False)
    s3 = env.client("s3")
    # What the emulator says of a bucket with no encryption set (real S3 would now report SSE-S3 by default).
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.get_bucket_encryption(Bucket=env.org.artifact_bucket)
    assert info.value.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"

    results = env.run(check_artifact_bucket)
    assert_passes(results["common.artifact-bucket.exists"])
    assert_fails(results["common.artifact-bucket.versioning"], found="never enabled", link=links.S3_VERSIONING)
    assert_fails(results["common.artifact-bucket.encryption"], found="none", link=links.S3_ENCRYPTION)
    assert_fails(results["common.artifact-bucket.public-access"], found="none set", link=links.S3_BLOCK_PUBLIC)


def test_artifact_bucket_suspended_versioning_and_partial_public_block_fail(env):
    make_artifact_bucket(env)
    s3 = env.client("s3")
    bucket = env.org.artifact_bucket
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    results = env.run(check_artifact_bucket)
    assert_fails(results["common.artifact-bucket.versioning"], found="Suspended")
    assert_passes(results["common.artifact-bucket.encryption"])
    public = results["common.artifact-bucket.public-access"]
    assert_fails(public, link=links.S3_BLOCK_PUBLIC)
    assert public.found == "off: BlockPublicPolicy, RestrictPublicBuckets"


def test_connection_parameter_missing_fails(env):
    results = env.run(check_connection)
    assert set(results) == {"common.connection.parameter"}
    bad = results["common.connection.parameter"]
    assert_fails(bad, found="missing", link=links.CONNECTION_HANDSHAKE)
    assert CONNECTION_PARAMETER in bad.resource


def test_a_pending_connection_fails_with_the_handshake_steps_then_passes_once_completed(env):
    put_connection_parameter(env, available=False)
    results = env.run(check_connection)
    assert_passes(results["common.connection.parameter"])
    assert results["common.connection.parameter"].found == CONNECTION_ARN
    status = results["common.connection.status"]
    assert_fails(status, found="PENDING", link=links.CONNECTION_HANDSHAKE)
    assert "runbook sandbox complete-handshake acme-github" in status.remedy
    assert "sandbox's stand-in" in status.remedy and "Update pending connection" in status.remedy
    complete_handshake(OPS, "us-east-1", "acme-github", endpoint=env.url)
    assert_passes(env.run(check_connection)["common.connection.status"])


def test_a_connection_parameter_naming_a_deleted_connection_fails(env):
    put_connection_parameter(env)
    env.client("codestar-connections").delete_connection(ConnectionArn=CONNECTION_ARN)
    status = env.run(check_connection)["common.connection.status"]
    assert status.status is Status.FAIL and "ResourceNotFoundException" in status.found


def test_source_credential_fails_without_one_and_passes_with_a_github_one(env):
    missing = env.run(check_source_credential)["common.source-credential"]
    assert_fails(missing, found="none")
    env.client("codebuild").import_source_credentials(token=GITHUB_TOKEN, serverType="BITBUCKET",
                                                      authType="BASIC_AUTH", username="someone")
    assert_fails(env.run(check_source_credential)["common.source-credential"], found="BITBUCKET/BASIC_AUTH")
    import_source_credential(env)
    assert_passes(env.run(check_source_credential)["common.source-credential"])


def test_deploy_roles_missing_fail(env):
    results = env.run(check_deploy_roles)
    for check_id in ("common.deploy-role.staging.acme-staging", "common.deploy-role.production.acme-production"):
        assert_fails(results[check_id], found="missing", link=links.IAM_ROLES)


def test_deploy_role_with_wrong_tag_fails(env):
    make_deploy_role(env, "acme-staging", STAGING, deploy_to="acme-production")
    make_deploy_role(env, "acme-production", PRODUCTION)
    results = env.run(check_deploy_roles)
    assert_passes(results["common.deploy-role.production.acme-production"])
    bad = results["common.deploy-role.staging.acme-staging"]
    assert_fails(bad, found="deployTo tag is 'acme-production'", link=links.IAM_ROLES)
    assert "trust" not in bad.found


def test_deploy_role_trust_without_principal_tag_condition_fails(env):
    make_deploy_role(env, "acme-staging", STAGING, trust=_trust(f"arn:aws:iam::{OPS}:root", None))
    bad = env.run(check_deploy_roles)["common.deploy-role.staging.acme-staging"]
    assert_fails(bad, found="trust lacks the cluster principal-tag condition")
    assert "deployTo" not in bad.found


def test_deploy_role_trusting_another_account_fails(env):
    make_deploy_role(env, "acme-staging", STAGING, trust=_trust(f"arn:aws:iam::{PRODUCTION}:root", "acme-staging"))
    bad = env.run(check_deploy_roles)["common.deploy-role.staging.acme-staging"]
    assert_fails(bad, found="does not trust the Operations account")


def test_deploy_role_condition_for_another_cluster_fails(env):
    make_deploy_role(env, "acme-staging", STAGING, trust=_trust(f"arn:aws:iam::{OPS}:root", "acme-staging-west"))
    bad = env.run(check_deploy_roles)["common.deploy-role.staging.acme-staging"]
    assert_fails(bad, found="principal-tag condition")


def test_deploy_role_in_the_wrong_account_does_not_count(env):
    # Perfect roles, but in the Operations account and swapped workload accounts: none of them is the one deployed to.
    make_deploy_role(env, "acme-staging", OPS)
    make_deploy_role(env, "acme-staging", PRODUCTION)
    make_deploy_role(env, "acme-production", STAGING)
    results = env.run(check_deploy_roles)
    assert_fails(results["common.deploy-role.staging.acme-staging"], found="missing")
    assert_fails(results["common.deploy-role.production.acme-production"], found="missing")
    assert f"({STAGING})" in results["common.deploy-role.staging.acme-staging"].resource


def test_deploy_role_unconditional_trust_beside_a_conditioned_statement_fails(env):
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OPS}:root"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PRODUCTION}:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:PrincipalTag/cluster.acme-staging.deploy": "true"}}},
    ]})
    make_deploy_role(env, "acme-staging", STAGING, trust=trust)
    assert_fails(env.run(check_deploy_roles)["common.deploy-role.staging.acme-staging"])


# -- postflight: CI root ------------------------------------------------------------------
def test_ecr_missing_fails(env):
    results = env.run(check_ecr)
    assert_fails(results["ci.ecr.exists"], found="missing: acme/web, acme/web-base", link=links.ECR_IMMUTABLE)
    # nothing to judge: SKIP, so the missing repositories are reported once, by ci.ecr.exists
    assert results["ci.ecr.immutable-tags"].status is Status.SKIP
    assert results["ci.ecr.immutable-tags"].found == "no repository to look at"
    assert "ci.ecr.workload-pull" not in results


def test_ecr_mutable_without_mirror_or_policy_fails(env):
    make_ecr(env, mutability="MUTABLE", base=False, policy=False)
    results = env.run(check_ecr)
    assert_fails(results["ci.ecr.exists"], found="missing: acme/web-base", link=links.ECR_IMMUTABLE)
    assert "acme/web," not in results["ci.ecr.exists"].found
    assert_fails(results["ci.ecr.immutable-tags"], found="mutable: acme/web", link=links.ECR_IMMUTABLE)
    pull = results["ci.ecr.workload-pull"]
    assert_fails(pull, link=links.ECR_POLICIES)
    assert pull.found == f"missing: arn:aws:iam::{STAGING}:root, arn:aws:iam::{PRODUCTION}:root"


def test_ecr_policy_for_one_account_only_fails(env):
    make_ecr(env, policy=False)
    env.client("ecr").set_repository_policy(repositoryName="acme/web", policyText=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{STAGING}:root"},
                                               "Action": "ecr:BatchGetImage"}]}))
    results = env.run(check_ecr)
    assert_passes(results["ci.ecr.exists"])
    assert_passes(results["ci.ecr.immutable-tags"])
    assert_fails(results["ci.ecr.workload-pull"], found=f"missing: arn:aws:iam::{PRODUCTION}:root")


def test_ecr_policy_that_denies_pull_fails(env):
    make_ecr(env, policy=False)
    env.client("ecr").set_repository_policy(repositoryName="acme/web", policyText=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ecr:BatchGetImage",
                                               "Principal": {"AWS": [f"arn:aws:iam::{STAGING}:root",
                                                                     f"arn:aws:iam::{PRODUCTION}:root"]}}]}))
    assert_fails(env.run(check_ecr)["ci.ecr.workload-pull"])


def test_ci_projects_missing_fail(env):
    results = env.run(check_ci_projects)
    assert set(results) == {"ci.project.image.exists", "ci.project.manifests.exists"}
    for check_id in results:
        assert_fails(results[check_id], found="missing", link=links.CODEBUILD_PROJECTS)


def test_image_project_made_wrong_by_hand_fails(env):
    wrong = _project(IMAGE_PROJECT, "https://github.com/someone-else/web.git", privileged=False,
                     env_vars={"OTHER": "x"}, role="acme-web-image-codebuild")
    make_projects(env, {"image": wrong})
    results = env.run(check_ci_projects)
    assert_fails(results["ci.project.image.source"], found="https://github.com/someone-else/web.git",
                 link=links.CODEBUILD_PROJECTS)
    assert results["ci.project.image.source"].expected == "https://github.com/acme-co/web.git"
    assert_fails(results["ci.project.image.privileged"], found="not privileged")
    assert_fails(results["ci.project.image.environment"], found="ECR_REPOSITORY_NAME=None")
    assert_passes(results["ci.project.image.webhook"])
    assert_fails(results["ci.project.manifests.exists"], found="missing")


def test_manifests_project_wrong_fails(env):
    projects = good_projects()
    projects["manifests"] = _project(MANIFESTS_PROJECT, "https://github.com/acme-co/web.git", privileged=True,
                                     env_vars={"ECR_REPOSITORY_NAME": "acme/other"}, role="r",
                                     secondary="https://github.com/acme-co/elsewhere.git")
    make_projects(env, projects)
    results = env.run(check_ci_projects)
    for kind in ("source", "privileged", "environment", "webhook"):
        assert f"ci.project.image.{kind}" in results
        assert_passes(results[f"ci.project.image.{kind}"])
    assert_fails(results["ci.project.manifests.source"], found="https://github.com/acme-co/web.git")
    assert_fails(results["ci.project.manifests.privileged"], found="privileged")
    assert_fails(results["ci.project.manifests.environment"], found="ECR_REPOSITORY_NAME=acme/other")
    assert_fails(results["ci.project.manifests.secondary-source"], found="https://github.com/acme-co/elsewhere.git")
    assert_passes(results["ci.project.manifests.webhook"])


def test_a_webhook_deleted_behind_the_runbooks_back_fails_exactly_that_check(env):
    build_all(env)
    env.client("codebuild").delete_webhook(projectName=MANIFESTS_PROJECT)
    results = env.run(*COMMON, *CI, *CD)
    failing = {i for i, r in results.items() if r.status is not Status.PASS}
    assert failing == {"ci.project.manifests.webhook"}
    assert_fails(results["ci.project.manifests.webhook"], found="no webhook", link=links.CODEBUILD_WEBHOOKS)


# -- postflight: CD root ------------------------------------------------------------------
def test_deploy_project_missing_fails(env):
    projects = good_projects()
    del projects["deploy"]
    make_projects(env, projects)
    results = env.run(check_deploy_project)
    assert set(results) == {"cd.deploy-project.exists"}
    assert_fails(results["cd.deploy-project.exists"], found="missing", link=links.CODEBUILD_PROJECTS)


def test_deploy_project_role_without_cluster_tags_fails(env):
    make_projects(env, deploy_role_tags=("acme-staging",))
    results = env.run(check_deploy_project)
    assert_passes(results["cd.deploy-project.exists"])
    bad = results["cd.deploy-project.role-tags"]
    assert_fails(bad, found="missing: cluster.acme-production.deploy", link=links.IAM_ROLES)
    assert DEPLOY_PROJECT_ROLE in bad.resource


def test_deploy_project_role_with_no_tags_fails(env):
    make_projects(env, deploy_role_tags=())
    bad = env.run(check_deploy_project)["cd.deploy-project.role-tags"]
    assert_fails(bad, found="missing: cluster.acme-production.deploy, cluster.acme-staging.deploy")


def test_pipelines_missing_fail(env):
    put_connection_parameter(env)
    results = env.run(check_pipelines)
    assert set(results) == {"cd.pipeline.staging.exists", "cd.pipeline.production.exists"}
    for r in results.values():
        assert_fails(r, found="missing", link=links.CODEPIPELINE)
    assert "acme-web-staging" in results["cd.pipeline.staging.exists"].resource


def _with_pipelines(env, **changes):
    """Build the connection parameter and both pipelines, staging changed by the given function."""
    put_connection_parameter(env)
    for stage in PIPELINES:
        pipeline = good_pipeline(env, stage)
        if stage == "staging":
            changes["change"](pipeline)
        make_pipeline(env, pipeline)
    return env.run(check_pipelines)


def _production_passes(results):
    production = {i: r for i, r in results.items() if i.startswith("cd.pipeline.production.")}
    assert set(production) == {"cd.pipeline.production.stages", "cd.pipeline.production.source.web",
                               "cd.pipeline.production.source.web-manifests", "cd.pipeline.production.deploy.acme-production"}
    for r in production.values():
        assert_passes(r)


def test_pipeline_with_wrong_branch_fails(env):
    def change(pipeline):
        pipeline["stages"][0]["actions"][0]["configuration"]["BranchName"] = "develop"

    results = _with_pipelines(env, change=change)
    _production_passes(results)
    bad = results["cd.pipeline.staging.source.web"]
    assert_fails(bad, found="branch 'develop'", link=links.CODEPIPELINE)
    assert "acme-co/web@main" in bad.expected
    assert_passes(results["cd.pipeline.staging.source.web-manifests"])


def test_pipeline_with_wrong_connection_and_missing_manifests_source_fails(env):
    def change(pipeline):
        source = pipeline["stages"][0]
        source["actions"][0]["configuration"]["ConnectionArn"] = "arn:aws:codestar-connections:us-east-1:111111111111:connection/other"
        del source["actions"][1]

    results = _with_pipelines(env, change=change)
    assert_fails(results["cd.pipeline.staging.source.web"], found="connection/other")
    assert_fails(results["cd.pipeline.staging.source.web-manifests"], found="no source action for acme-co/web-manifests")


def test_pipeline_without_deploy_action_fails(env):
    def change(pipeline):
        deploy = pipeline["stages"][2]
        deploy["actions"][0]["name"] = "something-else"

    results = _with_pipelines(env, change=change)
    _production_passes(results)
    assert_passes(results["cd.pipeline.staging.stages"])
    assert_fails(results["cd.pipeline.staging.deploy.acme-staging"], found="missing", link=links.CODEPIPELINE)


def test_pipeline_with_wrong_stages_fails(env):
    def change(pipeline):
        pipeline["stages"] = [pipeline["stages"][0], pipeline["stages"][2]]   # no Build stage

    results = _with_pipelines(env, change=change)
    assert_fails(results["cd.pipeline.staging.stages"], found="Source, Deploy", link=links.CODEPIPELINE)


def test_pipeline_with_wrong_deploy_environment_fails(env):
    def change(pipeline):
        config = pipeline["stages"][2]["actions"][0]["configuration"]
        variables = {v["name"]: v["value"] for v in json.loads(config["EnvironmentVariables"])}
        variables["DEPLOY_ROLE_ARN"] = f"arn:aws:iam::{PRODUCTION}:role/acme-production-deploy"
        del variables["LOG_LEVEL"]
        config["EnvironmentVariables"] = json.dumps([{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()])
        config["ProjectName"] = IMAGE_PROJECT

    results = _with_pipelines(env, change=change)
    _production_passes(results)
    bad = results["cd.pipeline.staging.deploy.acme-staging"]
    assert_fails(bad, link=links.CODEPIPELINE)
    assert bad.found == f"wrong or missing: DEPLOY_ROLE_ARN, LOG_LEVEL; runs {IMAGE_PROJECT}"
    assert f"DEPLOY_ROLE_ARN=arn:aws:iam::{STAGING}:role/acme-staging-deploy" in bad.expected


def test_pipeline_without_deploy_environment_fails(env):
    def change(pipeline):
        del pipeline["stages"][2]["actions"][0]["configuration"]["EnvironmentVariables"]

    bad = _with_pipelines(env, change=change)["cd.pipeline.staging.deploy.acme-staging"]
    assert_fails(bad, found="wrong or missing: DEPLOY_ROLE_ARN, EKS_CLUSTER_NAME, EKS_CLUSTER_REGION, LOG_LEVEL, MANIFEST_PATH")


def test_pipeline_with_unparsable_deploy_environment_fails(env):
    def change(pipeline):
        pipeline["stages"][2]["actions"][0]["configuration"]["EnvironmentVariables"] = "LOG_LEVEL=info"

    bad = _with_pipelines(env, change=change)["cd.pipeline.staging.deploy.acme-staging"]
    assert_fails(bad)


# -- read-only, and how many calls --------------------------------------------------------
class Recording:
    """SandboxClients that record every API operation the checks call (each new client gets a before-call hook).

    The AssumeRole that SandboxSessions makes once per account to reach it (as LiveClients does live) is on a
    client of its own, not one handed to a check, so it is not recorded: it is how the checks get in, not a check.
    """

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    def client(self, service, account_id, region=None):
        client = self.inner.client(service, account_id, region)

        def record(model, **_):
            self.calls.append((service, model.name))

        client.meta.events.register("before-call", record)
        return client


def test_all_checks_only_read(seeded, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, "/opt/tf-plugins")
    build_all(seeded)
    recording = Recording(seeded.clients)
    results = run_checks(seeded.org, seeded.app, recording, phase="all")
    assert results
    operations = {op for _, op in recording.calls}
    print("operations seen:", sorted(operations))
    writes = sorted(op for op in operations if not READ_ONLY.fullmatch(op))
    assert not writes, f"checks called operations that are not reads: {writes}"
    assert operations == {
        "GetCallerIdentity", "DescribeRegions", "DescribeParameters", "HeadBucket", "DescribeCluster",
        "GetBucketVersioning", "GetBucketEncryption", "GetPublicAccessBlock", "GetParameter", "GetRole",
        "DescribeRepositories", "GetRepositoryPolicy", "BatchGetProjects", "ListRoleTags", "GetPipeline",
        "GetConnection", "ListSourceCredentials", "ListAccessEntries", "ListAssociatedAccessPolicies",
    }


POSTFLIGHT_CALL_BOUND = 20   # measured: 19 calls for web (2 per cluster for its access entry added to 15 others)


def test_postflight_call_count_is_bounded(env):
    build_all(env)
    recording = Recording(env.clients)
    results = run_checks(env.org, env.app, recording, phase="postflight")
    assert all(r.status in (Status.PASS, Status.NOT_EMULATED) for r in results)
    count = len(recording.calls)
    print(f"full postflight for web: {count} API calls: {sorted(recording.calls)}")
    assert count <= POSTFLIGHT_CALL_BOUND
    assert [op for _, op in recording.calls].count("BatchGetProjects") == 1


# -- no secrets in any rendering ----------------------------------------------------------
SECRET_PATTERNS = (
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"aws_secret_access_key\W{0,5}[A-Za-z0-9/+=]{40}", re.IGNORECASE),
)


def test_results_never_show_the_token_or_keys(seeded, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, "/opt/tf-plugins")
    build_all(seeded)
    ssm = seeded.client("ssm")
    token = ssm.get_parameter(Name=seeded.org.github_token_parameter, WithDecryption=True)["Parameter"]["Value"]
    assert token.startswith("ghp_sandbox") and len(token) > 20
    # The assumed-role keys the checks ran with are secrets too (random 40-character keys from the emulator).
    keys = [seeded.clients._sessions.session(account).get_credentials() for account in (OPS, STAGING, PRODUCTION)]
    secrets = [token] + [k.secret_key for k in keys] + [k.token for k in keys if k.token]
    results = run_checks(seeded.org, seeded.app, seeded.clients, phase="all")
    console = Console(record=True, width=200)
    console.print(table(results))
    rendered = {"json": to_json(results), "html": to_html(results), "table": console.export_text(),
                "repr": repr(results)}
    for kind, text in rendered.items():
        assert token not in text, f"the GitHub token appears in the {kind} rendering"
        assert not [secret for secret in secrets if secret in text], f"a credential appears in the {kind} rendering"
        assert "ghp_" not in text, f"something token-like appears in the {kind} rendering"
        for pattern in SECRET_PATTERNS:
            assert not pattern.search(text), f"{pattern.pattern} matches in the {kind} rendering"


# -- bad input ----------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_clients(org, monkeypatch):
    """Clients for a loopback port nobody listens on; botocore's retries are turned off to spare the back-off
    (the outcome is the same with retries, only slower)."""
    no_retries = Config(retries={"max_attempts": 1}, connect_timeout=2)
    monkeypatch.setattr(sandbox_clients, "RETRIES", no_retries)
    monkeypatch.setattr(check_sessions, "RETRIES", no_retries)
    yield SandboxClients(f"http://127.0.0.1:{_closed_port()}", org.region, org.terraform_role_name)


def _assert_could_not_look(results):
    assert results
    for r in results:
        assert r.status is not Status.PASS, r
        if r.status is Status.FAIL:
            assert "could not look" in r.found, r
            assert r.remedy


@pytest.mark.parametrize("check", [c for c in PREFLIGHT if c.__name__ not in ("check_terraform", "check_module_sources")],
                         ids=lambda c: c.__name__)   # those two ask no AWS API
def test_preflight_against_a_sandbox_that_does_not_answer(org, apps, dead_clients, check):
    _assert_could_not_look(check(Context(org, apps["web"], dead_clients)))


@pytest.mark.parametrize("check", [
    check_artifact_bucket,
    check_connection,
    check_source_credential,
    check_deploy_roles,
    check_ecr,
    check_ci_projects,
    check_deploy_project,
    check_pipelines,
], ids=lambda c: c.__name__)
def test_postflight_against_a_sandbox_that_does_not_answer(org, apps, dead_clients, check):
    _assert_could_not_look(check(Context(org, apps["web"], dead_clients)))


def test_run_checks_against_a_sandbox_that_does_not_answer(org, apps, dead_clients):
    _assert_could_not_look(run_checks(org, apps["web"], dead_clients, phase="postflight"))


def test_cli_check_with_a_missing_app_file_exits_2(tmp_path, capsys):
    missing = tmp_path / "no-such-app.yaml"
    code = cli.main(["check", "--org", str(ORG_FILE), "--app", str(missing), "--target", "sandbox"])
    captured = capsys.readouterr()
    assert code == 2
    assert str(missing) in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_cli_check_without_a_running_sandbox_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(tmp_path))
    code = cli.main(["check", "--org", str(ORG_FILE), "--app", str(WEB_FILE), "--target", "sandbox"])
    captured = capsys.readouterr()
    assert code == 2
    assert "runbook sandbox start" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_cli_check_in_the_sandbox_reports_failures_and_no_token(seeded, sandbox, tmp_path, monkeypatch, capsys):
    """`runbook check` end to end against this module's sandbox: nothing applied yet, so it exits 1, token unseen."""
    token = seeded.client("ssm").get_parameter(Name=seeded.org.github_token_parameter,
                                               WithDecryption=True)["Parameter"]["Value"]
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, os.path.dirname(sandbox.log))
    report = tmp_path / "checks.json"
    code = cli.main(["check", "--org", str(ORG_FILE), "--app", str(WEB_FILE), "--target", "sandbox",
                     "--phase", "postflight", "--json", str(report)])
    captured = capsys.readouterr()
    assert code == 1
    data = json.loads(report.read_text())
    assert data["summary"]["FAIL"] > 0 and data["summary"]["PASS"] == 0
    statuses = {r["id"]: r["status"] for r in data["results"]}
    assert statuses["common.artifact-bucket.exists"] == "FAIL"
    assert statuses["common.source-credential"] == "FAIL"
    assert "Checks:" in captured.out and "FAIL" in captured.out
    for text in (captured.out, captured.err, report.read_text()):
        assert token not in text


def test_preflight_finds_each_pinned_commit_in_the_module_mirror(org, monkeypatch):
    from runbook_lib.checks.preflight import check_module_sources

    mirror = os.environ.get("RUNBOOK_TF_MODULE_MIRROR")
    if not mirror:
        missing("no module mirror beside this checkout")
    results = {r.id: r for r in check_module_sources(Context(org, None, None))}
    assert set(results) == {"pre.module-source.terraform-codestar-setup", "pre.module-source.terraform-eks-cicd"}
    for found in results.values():
        assert_passes(found)


def test_preflight_names_a_pinned_commit_the_mirror_lacks(org, tmp_path, monkeypatch):
    import subprocess

    from runbook_lib.checks.preflight import check_module_sources

    for repository in ("terraform-eks-cicd", "terraform-codestar-setup"):   # repositories without the pinned commits
        subprocess.run(["git", "init", "--quiet", "--bare", str(tmp_path / "thoughtbot" / f"{repository}.git")], check=True)
    monkeypatch.setenv("RUNBOOK_TF_MODULE_MIRROR", str(tmp_path))
    results = {r.id: r for r in check_module_sources(Context(org, None, None))}
    eks = results["pre.module-source.terraform-eks-cicd"]
    assert_fails(eks)
    assert "82ebade0e18d" in eks.expected and "runbook modules mirror" in eks.remedy
    monkeypatch.setenv("RUNBOOK_TF_MODULE_MIRROR", str(tmp_path / "nowhere"))
    [broken] = check_module_sources(Context(org, None, None))
    assert broken.id == "pre.module-mirror" and broken.status is Status.FAIL and "does not exist" in broken.found
    monkeypatch.delenv("RUNBOOK_TF_MODULE_MIRROR")
    assert {r.status for r in check_module_sources(Context(org, None, None))} == {Status.WARN}


def test_a_deploy_role_without_an_access_entry_fails_with_the_remedy(env):
    make_deploy_roles(env)
    make_cluster_access(env, skip="acme-staging")
    results = env.run(check_cluster_access)
    assert_fails(results["common.cluster-access.staging.acme-staging"], found="kubectl would get Unauthorized",
                 link=links.EKS_ACCESS_ENTRIES)
    assert "Re-apply the common root" in results["common.cluster-access.staging.acme-staging"].remedy
    assert_passes(results["common.cluster-access.production.acme-production"])


def test_an_access_entry_with_the_wrong_scope_fails(env):
    from runbook_lib.naming import eks_deploy_access_policy

    make_cluster_access(env)
    eks = env.client("eks", STAGING)
    role = f"arn:aws:iam::{STAGING}:role/acme-staging-deploy"
    eks.associate_access_policy(clusterName="acme-staging", principalArn=role, policyArn=eks_deploy_access_policy("us-east-1"),
                                accessScope={"type": "namespace", "namespaces": ["other"]})
    assert_fails(env.run(check_cluster_access)["common.cluster-access.staging.acme-staging"], found="scopes")
