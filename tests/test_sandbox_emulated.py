"""The sandbox's stand-ins for what moto lacks: CodeStar Connections, CodeBuild source credentials and webhooks,
CodePipeline's GetPipelineState.

Real parts only: a real sandbox server (moto over HTTP on loopback), real boto3.
Every response body is read raw off the wire and walked against botocore's model of
the operation: each key must be a member of the output shape, each required member
present, each value of the member's type (and enum). Errors must carry AWS's codes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import botocore.config
import botocore.session
import pytest
from botocore.exceptions import ClientError

from runbook_lib.cli import main as cli_main
from runbook_lib.sandbox import emulated, server
from runbook_lib.sandbox.clients import SandboxSessions
from runbook_lib.sandbox.emulated.codestarconnections.models import CodeStarConnectionsBackend
from runbook_lib.sandbox.seed import seed
from runbook_lib.sandbox.target import SERVICES

pytestmark = [pytest.mark.sandbox]

OPS, STAGING = "111111111111", "222222222222"
TOKEN = "ghp_sandboxprobe0123456789abcdefSECRET"
ENVIRONMENT = {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:5.0", "computeType": "BUILD_GENERAL1_SMALL"}
PR_EVENTS = [[{"type": "EVENT", "pattern": "PULL_REQUEST_CREATED,PULL_REQUEST_UPDATED"}]]
MODELS = botocore.session.get_session()


# --- a walker of botocore's output shapes ------------------------------------------------

def shape_problems(value, shape, path="$") -> list[str]:
    """Where ``value`` (parsed JSON) disagrees with botocore's ``shape``; [] when it conforms."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not an object"]
        problems = [f"{path}.{key}: not a member of {shape.name}" for key in value if key not in shape.members]
        problems += [f"{path}.{key}: required by {shape.name}, missing" for key in shape.required_members
                     if key not in value]
        for key, member in shape.members.items():
            if key in value:
                problems += shape_problems(value[key], member, f"{path}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, not a list"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, shape.member, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: not a map"]
        return [p for k, v in value.items() for p in shape_problems(v, shape.value, f"{path}[{k}]")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: {value!r} is not a string"]
        enum = shape.enum
        return [f"{path}: {value!r} not in {enum}"] if enum and value not in enum else []
    if kind in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: {value!r} not an integer"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: {value!r} not a boolean"]
    if kind == "timestamp":   # JSON protocols send epoch seconds
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{path}: {value!r} not epoch"]
    return []


def test_the_shape_walker_can_fail():
    model = MODELS.get_service_model("codestar-connections").operation_model("GetConnection").output_shape
    good = {"Connection": {"ConnectionName": "a", "ConnectionStatus": "PENDING"}}
    assert shape_problems(good, model) == []
    assert shape_problems({"Connection": {"ConnectionStatus": "READY", "Extra": 1}}, model) == [
        "$.Connection.Extra: not a member of Connection", "$.Connection.ConnectionStatus: 'READY' not in "
        "['PENDING', 'AVAILABLE', 'ERROR']"]
    hook = MODELS.get_service_model("codebuild").operation_model("CreateWebhook").output_shape
    assert shape_problems({"webhook": {"filterGroups": [[{"pattern": "PUSH"}]]}}, hook) == [
        "$.webhook.filterGroups[0][0].type: required by WebhookFilter, missing"]


class Wire:
    """Raw response bodies per operation, kept as they came off the wire."""

    def __init__(self):
        self.bodies: list[tuple[str, str, bytes]] = []

    def watch(self, client) -> None:
        service = client.meta.service_model.service_name

        def keep(response_dict, operation_model, **_):
            self.bodies.append((service, operation_model.name, response_dict["body"]))

        client.meta.events.register("before-parse", keep)

    def check(self, service: str, operation: str) -> dict:
        """The last body of that operation, parsed, after checking it against its output shape."""
        body = [b for s, o, b in self.bodies if (s, o) == (service, operation)][-1]
        data = json.loads(body or b"{}")
        output = MODELS.get_service_model(service).operation_model(operation).output_shape
        if output is None:
            assert data == {}, f"{operation} returns no output on AWS, got {data}"
        else:
            assert shape_problems(data, output) == [], f"{operation}: {shape_problems(data, output)}"
        return data


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, org):
    directory = tmp_path_factory.mktemp("emulated-sandbox")
    running = server.start(directory=directory)
    seed(org, running.url)
    yield running, directory
    server.stop(directory)


@pytest.fixture(scope="module")
def aws(sandbox, org):
    running, _ = sandbox
    return SandboxSessions(running.url, org.region, org.terraform_role_name)


@pytest.fixture()
def wire():
    return Wire()


def client(aws, wire, service, account=OPS, region=None):
    c = aws.client(service, account, region)
    wire.watch(c)
    return c


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def make_project(codebuild, name, account=OPS):
    source = {"type": "GITHUB", "location": f"https://github.com/acme-co/{name}.git"}
    codebuild.create_project(name=name, source=source, artifacts={"type": "NO_ARTIFACTS"}, environment=ENVIRONMENT,
                             serviceRole=f"arn:aws:iam::{account}:role/{name}")


# --- CodeStar Connections -----------------------------------------------------------------

def test_connection_lifecycle_speaks_the_service_model(aws, wire):
    cs = client(aws, wire, "codestar-connections")
    arn = cs.create_connection(ProviderType="GitHub", ConnectionName="life", Tags=[{"Key": "team", "Value": "a"}])[
        "ConnectionArn"]
    wire.check("codestar-connections", "CreateConnection")
    assert arn.startswith(f"arn:aws:codestar-connections:us-east-1:{OPS}:connection/")
    got = cs.get_connection(ConnectionArn=arn)["Connection"]
    wire.check("codestar-connections", "GetConnection")
    assert (got["ConnectionName"], got["ConnectionStatus"], got["ProviderType"]) == ("life", "PENDING", "GitHub")
    assert arn in [c["ConnectionArn"] for c in cs.list_connections(ProviderTypeFilter="GitHub")["Connections"]]
    wire.check("codestar-connections", "ListConnections")
    cs.tag_resource(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "x"}])
    wire.check("codestar-connections", "TagResource")
    cs.untag_resource(ResourceArn=arn, TagKeys=["team"])
    wire.check("codestar-connections", "UntagResource")
    assert cs.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "x"}]
    wire.check("codestar-connections", "ListTagsForResource")
    cs.delete_connection(ConnectionArn=arn)
    wire.check("codestar-connections", "DeleteConnection")
    with pytest.raises(ClientError) as gone:
        cs.get_connection(ConnectionArn=arn)
    assert code(gone) == "ResourceNotFoundException"


def test_connections_belong_to_their_account(aws, wire):
    arn = client(aws, wire, "codestar-connections").create_connection(ProviderType="GitHub", ConnectionName="mine")[
        "ConnectionArn"]
    with pytest.raises(ClientError) as elsewhere:
        client(aws, wire, "codestar-connections", STAGING).get_connection(ConnectionArn=arn)
    assert code(elsewhere) == "ResourceNotFoundException"


@pytest.mark.parametrize("request_args, error, words", [
    ({"ProviderType": "GitHub", "ConnectionName": "x" * 33}, "ValidationException", "length less than or equal to 32"),
    ({"ProviderType": "GitHub", "ConnectionName": ""}, "ValidationException", "greater than or equal to 1"),
    ({"ProviderType": "GitHubb", "ConnectionName": "typo"}, "ValidationException", "enum value set"),
])
def test_connection_bad_input_gets_aws_codes_and_creates_nothing(aws, wire, request_args, error, words):
    cs = client(aws, wire, "codestar-connections")
    before = cs.list_connections()["Connections"]
    # botocore would refuse these itself; the server must refuse them too.
    raw = aws.client("codestar-connections", OPS, config=botocore.config.Config(parameter_validation=False))
    with pytest.raises(ClientError) as refused:
        raw.create_connection(**request_args)
    assert code(refused) == error and words in str(refused.value)
    assert cs.list_connections()["Connections"] == before


def test_missing_connections_are_resource_not_found(aws, wire):
    cs = client(aws, wire, "codestar-connections")
    missing = f"arn:aws:codestar-connections:us-east-1:{OPS}:connection/00000000-0000-0000-0000-000000000000"
    for call in (lambda: cs.get_connection(ConnectionArn=missing), lambda: cs.delete_connection(ConnectionArn=missing),
                 lambda: cs.list_tags_for_resource(ResourceArn=missing),
                 lambda: cs.tag_resource(ResourceArn=missing, Tags=[{"Key": "a", "Value": "b"}]),
                 lambda: cs.untag_resource(ResourceArn=missing, TagKeys=["a"])):
        with pytest.raises(ClientError) as gone:
            call()
        assert code(gone) == "ResourceNotFoundException"


def test_connection_arns_are_deterministic_and_distinct():
    first, second = CodeStarConnectionsBackend("us-east-1", OPS), CodeStarConnectionsBackend("us-east-1", OPS)
    a = first.create_connection("acme-github", "GitHub", None, None).arn
    assert second.create_connection("acme-github", "GitHub", None, None).arn == a   # a fresh sandbox: same ARN
    assert first.create_connection("acme-github", "GitHub", None, None).arn != a    # a second one: another ARN
    assert CodeStarConnectionsBackend("us-west-2", OPS).create_connection("acme-github", "GitHub", None, None).arn != a


# --- the handshake: the sandbox's stand-in for the console step ------------------------------

def run_cli(capsys, directory, monkeypatch, *args):
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(directory))
    code_ = cli_main(list(args))
    out = capsys.readouterr()
    return code_, out.out + out.err


def test_complete_handshake_makes_the_connection_available(aws, wire, sandbox, capsys, monkeypatch):
    _, directory = sandbox
    cs = client(aws, wire, "codestar-connections")
    arn = cs.create_connection(ProviderType="GitHub", ConnectionName="acme-github")["ConnectionArn"]
    assert cs.get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"] == "PENDING"
    status, out = run_cli(capsys, directory, monkeypatch, "sandbox", "complete-handshake")
    assert status == 0, out
    assert "sandbox stand-in" in out and "AVAILABLE" in out and arn in out
    assert cs.get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"] == "AVAILABLE"


def test_complete_handshake_of_an_unknown_connection_is_a_clear_error(sandbox, capsys, monkeypatch):
    _, directory = sandbox
    status, out = run_cli(capsys, directory, monkeypatch, "sandbox", "complete-handshake", "no-such-connection")
    assert status == 2
    assert "no connection named 'no-such-connection' in account 111111111111" in out and "Traceback" not in out


def test_complete_handshake_refuses_without_a_sandbox(tmp_path, capsys, monkeypatch):
    status, out = run_cli(capsys, tmp_path, monkeypatch, "sandbox", "complete-handshake")
    assert status == 2 and "the sandbox is not running" in out


def test_complete_handshake_refuses_a_server_that_is_not_the_sandbox(tmp_path, capsys, monkeypatch):
    """A state file naming another process (here: this test) on some port: nothing is contacted."""
    import os

    (tmp_path / "sandbox.json").write_text(json.dumps(
        {"pid": os.getpid(), "port": 1, "url": "http://127.0.0.1:1", "log": str(tmp_path / "log"),
             "key": "SBXK" + "A" * 32}))
    status, out = run_cli(capsys, tmp_path, monkeypatch, "sandbox", "complete-handshake")
    assert status == 2 and "the sandbox is not running" in out


# --- CodeBuild source credentials ----------------------------------------------------------

def test_source_credentials_speak_the_service_model(aws, wire):
    cb = client(aws, wire, "codebuild", STAGING)
    arn = cb.import_source_credentials(token=TOKEN, serverType="GITHUB", authType="PERSONAL_ACCESS_TOKEN")["arn"]
    wire.check("codebuild", "ImportSourceCredentials")
    infos = cb.list_source_credentials()["sourceCredentialsInfos"]
    wire.check("codebuild", "ListSourceCredentials")
    assert infos == [{"arn": arn, "serverType": "GITHUB", "authType": "PERSONAL_ACCESS_TOKEN"}]
    assert cb.delete_source_credentials(arn=arn)["arn"] == arn
    wire.check("codebuild", "DeleteSourceCredentials")
    assert cb.list_source_credentials()["sourceCredentialsInfos"] == []
    with pytest.raises(ClientError) as gone:
        cb.delete_source_credentials(arn=arn)
    assert code(gone) == "ResourceNotFoundException"


def test_source_credential_bad_input(aws, wire):
    raw = aws.client("codebuild", STAGING, config=botocore.config.Config(parameter_validation=False))
    for bad in ({"token": TOKEN, "serverType": "GITHUBB", "authType": "PERSONAL_ACCESS_TOKEN"},
                {"token": TOKEN, "serverType": "BITBUCKET", "authType": "BASIC_AUTH"},
                {"token": "", "serverType": "GITHUB", "authType": "PERSONAL_ACCESS_TOKEN"}):
        with pytest.raises(ClientError) as refused:
            raw.import_source_credentials(**bad)
        assert code(refused) == "InvalidInputException"
        assert TOKEN not in str(refused.value)
    assert raw.list_source_credentials()["sourceCredentialsInfos"] == []


def test_the_token_appears_in_no_response_and_no_log(aws, wire, sandbox):
    running, directory = sandbox
    cb = client(aws, wire, "codebuild", STAGING)
    arn = cb.import_source_credentials(token=TOKEN, serverType="GITHUB", authType="PERSONAL_ACCESS_TOKEN")["arn"]
    cb.list_source_credentials()
    raw = aws.client("codebuild", STAGING, config=botocore.config.Config(parameter_validation=False))
    with pytest.raises(ClientError):
        raw.import_source_credentials(token=TOKEN, serverType="NOPE", authType="PERSONAL_ACCESS_TOKEN")
    state = server.save_snapshot("token-check", directory).read_bytes()   # moto's whole state, pickled
    cb.delete_source_credentials(arn=arn)
    assert wire.bodies, "no response was seen"
    for service, operation, body in wire.bodies:
        assert TOKEN.encode() not in body, f"{operation} returned the token"
    assert TOKEN.encode() not in state
    assert TOKEN not in Path(running.log).read_text(errors="replace")


# --- CodeBuild webhooks -----------------------------------------------------------------------

def test_webhook_lifecycle_speaks_the_service_model(aws, wire):
    cb = client(aws, wire, "codebuild")
    cb.import_source_credentials(token=TOKEN, serverType="GITHUB", authType="PERSONAL_ACCESS_TOKEN")
    make_project(cb, "hooked")
    hook = cb.create_webhook(projectName="hooked", filterGroups=PR_EVENTS, buildType="BUILD")["webhook"]
    created = wire.check("codebuild", "CreateWebhook")["webhook"]
    assert created["secret"] and hook["url"].startswith("https://api.github.com/repos/acme-co/hooked/hooks/")
    project = cb.batch_get_projects(names=["hooked"])["projects"][0]
    listed = wire.check("codebuild", "BatchGetProjects")["projects"][0]["webhook"]
    assert {"url", "payloadUrl", "buildType", "branchFilter", "filterGroups"} <= set(listed)
    assert "secret" not in listed   # as on AWS: only CreateWebhook (and a rotation) return it
    assert project["webhook"]["filterGroups"] == PR_EVENTS
    updated = cb.update_webhook(projectName="hooked", branchFilter="^main$")["webhook"]
    wire.check("codebuild", "UpdateWebhook")
    assert updated["branchFilter"] == "^main$" and "secret" not in wire.check("codebuild", "UpdateWebhook")["webhook"]
    cb.delete_webhook(projectName="hooked")
    wire.check("codebuild", "DeleteWebhook")
    assert "webhook" not in cb.batch_get_projects(names=["hooked"])["projects"][0]
    with pytest.raises(ClientError) as gone:
        cb.delete_webhook(projectName="hooked")
    assert code(gone) == "ResourceNotFoundException"


def test_a_webhook_created_without_a_build_type_reads_back_without_one(aws, wire):
    """What the provider compares: a buildType the request did not give would be drift in every plan."""
    cb = client(aws, wire, "codebuild")
    cb.import_source_credentials(token=TOKEN, serverType="GITHUB", authType="PERSONAL_ACCESS_TOKEN")
    make_project(cb, "untyped")
    cb.create_webhook(projectName="untyped", filterGroups=PR_EVENTS)
    assert "buildType" not in cb.batch_get_projects(names=["untyped"])["projects"][0]["webhook"]


def test_webhook_for_a_missing_project_is_resource_not_found(aws, wire):
    cb = client(aws, wire, "codebuild")
    with pytest.raises(ClientError) as missing:
        cb.create_webhook(projectName="no-such-project", filterGroups=PR_EVENTS)
    assert code(missing) == "ResourceNotFoundException" and "no-such-project" in str(missing.value)


def test_webhook_needs_a_github_credential_in_that_account_and_region(aws, wire):
    """A credential in us-east-1 does not serve a project in us-west-2; nothing is half-created."""
    east = client(aws, wire, "codebuild", STAGING)
    east.import_source_credentials(token=TOKEN, serverType="GITHUB", authType="PERSONAL_ACCESS_TOKEN",
                                   shouldOverwrite=True)
    west = client(aws, wire, "codebuild", STAGING, "us-west-2")
    make_project(west, "west-project", STAGING)
    with pytest.raises(ClientError) as refused:
        west.create_webhook(projectName="west-project", filterGroups=PR_EVENTS)
    assert code(refused) == "ResourceNotFoundException" and "access token for server type github" in str(refused.value)
    assert "webhook" not in west.batch_get_projects(names=["west-project"])["projects"][0]


@pytest.mark.parametrize("filter_groups, words", [
    ([[{"type": "HEAD_REF", "pattern": "^refs/heads/main$"}]], "exactly one EVENT filter"),
    ([[{"type": "EVENT", "pattern": "PULL_REQUEST_OPENED"}]], "Invalid event 'PULL_REQUEST_OPENED'"),
    ([[{"type": "EVENTS", "pattern": "PUSH"}]], "Invalid filter type EVENTS"),
])
def test_webhook_bad_filters_are_invalid_input(aws, wire, filter_groups, words):
    cb = client(aws, wire, "codebuild")
    cb.import_source_credentials(token=TOKEN, serverType="GITHUB", authType="PERSONAL_ACCESS_TOKEN")
    name = f"filters-{abs(hash(words)) % 10**6}"
    make_project(cb, name)
    raw = aws.client("codebuild", OPS, config=botocore.config.Config(parameter_validation=False))
    with pytest.raises(ClientError) as refused:
        raw.create_webhook(projectName=name, filterGroups=filter_groups)
    assert code(refused) == "InvalidInputException" and words in str(refused.value)
    assert "webhook" not in cb.batch_get_projects(names=[name])["projects"][0]


def test_a_second_webhook_on_a_project_is_refused(aws, wire):
    cb = client(aws, wire, "codebuild")
    cb.import_source_credentials(token=TOKEN, serverType="GITHUB", authType="PERSONAL_ACCESS_TOKEN")
    make_project(cb, "twice")
    cb.create_webhook(projectName="twice", filterGroups=PR_EVENTS)
    with pytest.raises(ClientError) as again:
        cb.create_webhook(projectName="twice", filterGroups=PR_EVENTS)
    assert code(again) == "ResourceAlreadyExistsException"


# --- CodePipeline stage states -------------------------------------------------------------------

PIPELINE_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def make_pipeline(aws, name: str) -> None:
    iam = aws.client("iam", OPS)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(PIPELINE_TRUST))["Role"]
    action = {"actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
              "configuration": {"S3Bucket": "artifacts", "S3ObjectKey": "source.zip"}, "outputArtifacts": [{"name": "src"}]}
    build = {"actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
             "configuration": {"ProjectName": "p"}, "inputArtifacts": [{"name": "src"}]}
    aws.client("codepipeline", OPS).create_pipeline(pipeline={
        "name": name, "roleArn": role["Arn"], "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [{"name": "Source", "actions": [{"name": "Fetch", **action}]},
                   {"name": "Build", "actions": [{"name": "Image", **build}]}]})


def test_pipeline_state_speaks_the_service_model_before_and_after_a_run(aws, wire):
    make_pipeline(aws, "stated")
    cp = client(aws, wire, "codepipeline")
    cp.get_pipeline_state(name="stated")
    before = wire.check("codepipeline", "GetPipelineState")
    assert [(s["stageName"], [a["actionName"] for a in s["actionStates"]]) for s in before["stageStates"]] == [
        ("Source", ["Fetch"]), ("Build", ["Image"])]
    assert all("latestExecution" not in s for s in before["stageStates"])   # never run
    run = cp.start_pipeline_execution(name="stated")["pipelineExecutionId"]
    for _ in range(100):   # the execution runs on the emulator's thread; an S3 source is not emulated
        if cp.get_pipeline_execution(pipelineName="stated", pipelineExecutionId=run)[
                "pipelineExecution"]["status"] != "InProgress":
            break
        time.sleep(0.1)
    cp.get_pipeline_state(name="stated")
    after = wire.check("codepipeline", "GetPipelineState")
    assert after["stageStates"][0]["latestExecution"] == {"pipelineExecutionId": run, "status": "Failed"}
    assert "latestExecution" not in after["stageStates"][1]   # a later stage never ran
    fetch = after["stageStates"][0]["actionStates"][0]["latestExecution"]
    assert fetch["status"] == "Failed" and "action provider S3 is not emulated by the sandbox" in fetch["summary"]
    cp.list_action_executions(pipelineName="stated")
    actions = wire.check("codepipeline", "ListActionExecutions")["actionExecutionDetails"]
    assert [(a["stageName"], a["actionName"], a["status"]) for a in actions] == [("Source", "Fetch", "Failed")]


# --- EKS access entries ----------------------------------------------------------------------

def test_access_entries_speak_the_service_model_and_keep_aws_rules(aws, wire):
    eks = client(aws, wire, "eks", "222222222222")
    role = "arn:aws:iam::222222222222:role/acme-staging-deploy"
    policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
    eks.create_access_entry(clusterName="acme-staging", principalArn=role)
    wire.check("eks", "CreateAccessEntry")
    eks.describe_access_entry(clusterName="acme-staging", principalArn=role)
    assert wire.check("eks", "DescribeAccessEntry")["accessEntry"]["principalArn"] == role
    eks.associate_access_policy(clusterName="acme-staging", principalArn=role, policyArn=policy,
                                accessScope={"type": "namespace", "namespaces": ["web"]})
    wire.check("eks", "AssociateAccessPolicy")
    eks.list_associated_access_policies(clusterName="acme-staging", principalArn=role)
    [associated] = wire.check("eks", "ListAssociatedAccessPolicies")["associatedAccessPolicies"]
    assert associated["accessScope"] == {"type": "namespace", "namespaces": ["web"]}
    eks.list_access_entries(clusterName="acme-staging")
    assert wire.check("eks", "ListAccessEntries")["accessEntries"] == [role]
    with pytest.raises(ClientError) as twice:
        eks.create_access_entry(clusterName="acme-staging", principalArn=role)
    assert code(twice) == "ResourceInUseException"
    with pytest.raises(ClientError) as not_eks:
        eks.associate_access_policy(clusterName="acme-staging", principalArn=role,
                                    policyArn="arn:aws:iam::aws:policy/AdministratorAccess", accessScope={"type": "cluster"})
    assert code(not_eks) == "InvalidParameterException"
    with pytest.raises(ClientError) as no_cluster:
        eks.create_access_entry(clusterName="no-such-cluster", principalArn=role)
    assert code(no_cluster) == "ResourceNotFoundException" and "No cluster found for name: no-such-cluster" in str(
        no_cluster.value)
    eks.disassociate_access_policy(clusterName="acme-staging", principalArn=role, policyArn=policy)
    eks.delete_access_entry(clusterName="acme-staging", principalArn=role)
    with pytest.raises(ClientError) as gone:
        eks.describe_access_entry(clusterName="acme-staging", principalArn=role)
    assert code(gone) == "ResourceNotFoundException"


def test_pipeline_state_of_a_missing_pipeline_is_pipeline_not_found(aws, wire):
    cp = client(aws, wire, "codepipeline")
    with pytest.raises(ClientError) as missing:
        cp.get_pipeline_state(name="no-such-pipeline")
    assert code(missing) == "PipelineNotFoundException"
    assert "no-such-pipeline" in str(missing.value)


# --- probes: when moto ships its own, ours can go ---------------------------------------------

@pytest.mark.parametrize("feature", sorted(emulated.STAND_INS))
def test_moto_still_lacks_what_the_sandbox_emulates(feature):
    """Fails once the installed moto has the service or operation itself: then drop our stand-in."""
    assert not emulated.moto_ships(feature), (
        f"moto now ships {emulated.STAND_INS[feature]}: remove the sandbox's stand-in for it "
        "(runbook_lib/sandbox/emulated/) and use moto's")


def test_moto_lacks_codebuild_webhooks_when_asked_in_process():
    """The same, by behaviour: moto's own CodeBuild (in-process, not the sandbox's) cannot create a webhook."""
    import boto3
    from moto import mock_aws

    from runbook_lib.sandbox import moto_patches

    with moto_patches.unpatched(), mock_aws():
        cb = boto3.client("codebuild", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        with pytest.raises(NotImplementedError):
            cb.create_webhook(projectName="probe")


def test_the_provider_endpoints_name_codestar_connections():
    assert "codestarconnections" in SERVICES


def test_a_build_of_a_missing_repository_fails_in_download_source_and_speaks_the_service_model(aws, wire):
    codebuild = client(aws, wire, "codebuild")
    make_project(codebuild, "shape-of-builds")
    build_id = codebuild.start_build(projectName="shape-of-builds")["build"]["id"]
    wire.check("codebuild", "StartBuild")
    for _ in range(200):
        build = codebuild.batch_get_builds(ids=[build_id, "shape-of-builds:no-such-build"])
        if build["builds"][0]["buildComplete"]:
            break
        time.sleep(0.1)
    data = wire.check("codebuild", "BatchGetBuilds")
    assert data["buildsNotFound"] == ["shape-of-builds:no-such-build"]
    [failed] = [p for p in data["builds"][0]["phases"] if p.get("phaseStatus") == "FAILED"]
    assert data["builds"][0]["buildStatus"] == "FAILED" and failed["contexts"][0]["statusCode"] == "CLIENT_ERROR"
    assert failed["phaseType"] in ("DOWNLOAD_SOURCE", "PROVISIONING")   # PROVISIONING when bubblewrap is missing
    codebuild.list_builds_for_project(projectName="shape-of-builds")
    assert wire.check("codebuild", "ListBuildsForProject")["ids"] == [build_id]
