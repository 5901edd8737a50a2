"""The checks of CodeStar Connections, CodeBuild source credentials and webhooks, on AWS's own shapes.

In the sandbox these checks read the sandbox's emulated services (test_checks.py). Here
they run against real boto3 clients (us-east-1, fake credentials, no network)
whose answers come from ``botocore.stub.Stubber``. These are not AWS: each
response is written by hand, shaped by the service model, which Stubber
validates (a response or request that does not match the model fails the
test), so the checks' PASS and FAIL paths are proven on the shapes AWS returns.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from runbook_lib.checks import Context, Status
from runbook_lib.checks.postflight import check_ci_projects, check_connection, check_source_credential
from runbook_lib.checks.status import ConnectionWaitTimeout, wait_for_connection
from runbook_lib.errors import RunbookError

OPS = "111111111111"
REGION = "us-east-1"
CONNECTION_PARAMETER = "/codestar_connection/GitHub/acme-github"
CONNECTION_ARN = f"arn:aws:codestar-connections:{REGION}:{OPS}:connection/6f0c1f6e-0000-4000-8000-000000000000"
HANDSHAKE_PAGE = "https://docs.aws.amazon.com/dtconsole/latest/userguide/connections-update.html"
SOURCE_CREDENTIALS_PAGE = "https://docs.aws.amazon.com/codebuild/latest/userguide/access-tokens-github.html"
WEBHOOKS_PAGE = "https://docs.aws.amazon.com/codebuild/latest/userguide/github-webhook.html"
PR_EVENTS = "PULL_REQUEST_CREATED,PULL_REQUEST_UPDATED"


class StubbedClients:
    """What the checks expect of LiveClients/SandboxClients, backed by one stubbed client per service."""

    def __init__(self):
        self.session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                     region_name=REGION)
        self._clients: dict[str, object] = {}
        self.stubbers: dict[str, Stubber] = {}
        self.asked: list[tuple[str, str, str | None]] = []

    def emulates(self, feature: str) -> bool:
        return True

    def stub(self, service: str) -> Stubber:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=REGION)
            self.stubbers[service] = Stubber(self._clients[service])
            self.stubbers[service].activate()
        return self.stubbers[service]

    def client(self, service: str, account_id: str, region: str | None = None):
        self.asked.append((service, account_id, region))
        if service not in self._clients:
            raise AssertionError(f"the check asked for a {service} client no test stubbed")
        return self._clients[service]

    def assert_done(self):
        for service, stubber in self.stubbers.items():
            stubber.assert_no_pending_responses()
            stubber.deactivate()
        assert {account for _, account, _ in self.asked} <= {OPS}, self.asked


@pytest.fixture
def stubbed() -> StubbedClients:
    return StubbedClients()


def _ctx(org, apps, clients) -> Context:
    return Context(org, apps["web"], clients)


# -- CodeStar Connections ------------------------------------------------------------------
def _stub_connection_parameter(stubbed: StubbedClients):
    stubbed.stub("ssm").add_response(
        "get_parameter",
        {"Parameter": {"Name": CONNECTION_PARAMETER, "Type": "String", "Value": CONNECTION_ARN, "Version": 1,
                       "ARN": f"arn:aws:ssm:{REGION}:{OPS}:parameter{CONNECTION_PARAMETER}", "DataType": "text"}},
        {"Name": CONNECTION_PARAMETER},   # no WithDecryption: the connection ARN is not a secret
    )


def _stub_connection(stubbed: StubbedClients, status: str):
    stubbed.stub("codestar-connections").add_response(
        "get_connection",
        {"Connection": {"ConnectionName": "acme-github", "ConnectionArn": CONNECTION_ARN, "ProviderType": "GitHub",
                        "OwnerAccountId": OPS, "ConnectionStatus": status}},
        {"ConnectionArn": CONNECTION_ARN},
    )


def test_connection_available_passes(org, apps, stubbed):
    _stub_connection_parameter(stubbed)
    _stub_connection(stubbed, "AVAILABLE")
    results = {r.id: r for r in check_connection(_ctx(org, apps, stubbed))}
    stubbed.assert_done()
    assert results["common.connection.parameter"].status is Status.PASS
    assert results["common.connection.parameter"].found == CONNECTION_ARN
    status = results["common.connection.status"]
    assert status.status is Status.PASS
    assert status.found == "AVAILABLE"


def test_connection_pending_fails_with_the_handshake_steps(org, apps, stubbed):
    _stub_connection_parameter(stubbed)
    _stub_connection(stubbed, "PENDING")
    results = {r.id: r for r in check_connection(_ctx(org, apps, stubbed))}
    stubbed.assert_done()
    assert results["common.connection.parameter"].status is Status.PASS
    status = results["common.connection.status"]
    assert status.status is Status.FAIL
    assert status.found == "PENDING"
    assert status.expected == "AVAILABLE"
    assert "Update pending connection" in status.remedy
    assert "acme-github" in status.remedy and "acme-co" in status.remedy
    assert status.link == HANDSHAKE_PAGE


def test_connection_error_status_fails(org, apps, stubbed):
    _stub_connection_parameter(stubbed)
    _stub_connection(stubbed, "ERROR")
    status = {r.id: r for r in check_connection(_ctx(org, apps, stubbed))}["common.connection.status"]
    stubbed.assert_done()
    assert status.status is Status.FAIL
    assert status.found == "ERROR"


def test_connection_that_cannot_be_read_fails_without_guessing(org, apps, stubbed):
    _stub_connection_parameter(stubbed)
    stubbed.stub("codestar-connections").add_client_error(
        "get_connection", service_error_code="AccessDeniedException", service_message="not authorized",
        http_status_code=400, expected_params={"ConnectionArn": CONNECTION_ARN})
    status = {r.id: r for r in check_connection(_ctx(org, apps, stubbed))}["common.connection.status"]
    stubbed.assert_done()
    assert status.status is Status.FAIL
    assert status.found.startswith("could not look: AccessDeniedException")
    assert status.remedy


class FakeClock:
    """Time for the wait loop without waiting: sleep moves the clock."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_waiting_polls_with_backoff_until_available(org, apps, stubbed):
    _stub_connection_parameter(stubbed)
    for status in ("PENDING", "PENDING", "PENDING", "AVAILABLE"):
        _stub_connection(stubbed, status)
    clock, lines = FakeClock(), []
    state = wait_for_connection(_ctx(org, apps, stubbed), first_delay=5, max_delay=15, progress=lines.append,
                                sleep=clock.sleep, clock=lambda: clock.now)
    stubbed.assert_done()
    assert (state.status, state.arn, state.waited) == ("AVAILABLE", CONNECTION_ARN, 30)
    assert clock.sleeps == [5, 10, 15]  # doubling, capped at max_delay
    assert lines[0] == "connection acme-github is PENDING; checking again in 5 s (0/900 s)"
    assert lines[-1] == "connection acme-github is AVAILABLE (after 30 s)"


def test_waiting_stops_at_the_timeout_with_the_handshake_steps(org, apps, stubbed):
    _stub_connection_parameter(stubbed)
    for _ in range(3):
        _stub_connection(stubbed, "PENDING")
    clock = FakeClock()
    with pytest.raises(ConnectionWaitTimeout) as exc:
        wait_for_connection(_ctx(org, apps, stubbed), timeout=20, first_delay=5, progress=lambda _: None,
                            sleep=clock.sleep, clock=lambda: clock.now)
    stubbed.assert_done()
    assert "still PENDING after 15 s" in str(exc.value)
    assert "Update pending connection" in str(exc.value)


def test_waiting_stops_at_once_on_error(org, apps, stubbed):
    _stub_connection_parameter(stubbed)
    _stub_connection(stubbed, "ERROR")
    clock = FakeClock()
    with pytest.raises(RunbookError, match="is in ERROR: delete it in the console"):
        wait_for_connection(_ctx(org, apps, stubbed), progress=lambda _: None, sleep=clock.sleep,
                            clock=lambda: clock.now)
    stubbed.assert_done()
    assert clock.sleeps == []


def test_opened_in_jupyter_a_pending_connection_gets_a_recheck_button(org, apps, stubbed, monkeypatch, capsys):
    from runbook_lib import notebook as rb

    session = rb.start("parameters/org.yaml", target="live", out_dir="build/recheck-test", interactive=True)
    monkeypatch.setattr("runbook_lib.checks.clients_for", lambda _org, _target: stubbed)
    _stub_connection_parameter(stubbed)
    _stub_connection(stubbed, "PENDING")
    box = rb.wait_for_connection(session)   # returns at once: nothing waits for the handshake
    assert "connection acme-github is PENDING" in capsys.readouterr().out
    assert session.record.connection == "PENDING"
    button = box.children[0]
    assert button.description == "Re-check connection" and not button.disabled
    _stub_connection(stubbed, "PENDING")
    button.click()
    assert "connection acme-github is PENDING" in capsys.readouterr().out and not button.disabled
    _stub_connection(stubbed, "AVAILABLE")
    button.click()
    assert "connection acme-github is AVAILABLE" in capsys.readouterr().out
    assert button.disabled and session.record.connection == "AVAILABLE"
    stubbed.assert_done()


# -- CodeBuild source credentials ----------------------------------------------------------
def _stub_source_credentials(stubbed: StubbedClients, infos: list[dict]):
    stubbed.stub("codebuild").add_response("list_source_credentials", {"sourceCredentialsInfos": infos}, {})


def test_github_source_credential_passes(org, apps, stubbed):
    _stub_source_credentials(stubbed, [
        {"arn": f"arn:aws:codebuild:{REGION}:{OPS}:token/github", "serverType": "GITHUB",
         "authType": "PERSONAL_ACCESS_TOKEN"}])
    [result] = check_source_credential(_ctx(org, apps, stubbed))
    stubbed.assert_done()
    assert result.id == "common.source-credential"
    assert result.status is Status.PASS
    assert result.found == "GITHUB/PERSONAL_ACCESS_TOKEN"


def test_no_source_credential_fails(org, apps, stubbed):
    _stub_source_credentials(stubbed, [])
    [result] = check_source_credential(_ctx(org, apps, stubbed))
    stubbed.assert_done()
    assert result.status is Status.FAIL
    assert result.found == "none"
    assert org.github_token_parameter in result.remedy
    assert result.link == SOURCE_CREDENTIALS_PAGE


def test_source_credential_for_another_provider_only_fails(org, apps, stubbed):
    _stub_source_credentials(stubbed, [
        {"arn": f"arn:aws:codebuild:{REGION}:{OPS}:token/bitbucket", "serverType": "BITBUCKET", "authType": "BASIC_AUTH"}])
    [result] = check_source_credential(_ctx(org, apps, stubbed))
    stubbed.assert_done()
    assert result.status is Status.FAIL
    assert result.found == "BITBUCKET/BASIC_AUTH"


# -- CodeBuild webhooks --------------------------------------------------------------------
def _webhook(pattern: str) -> dict:
    return {"url": "https://api.github.com/repos/acme-co/web/hooks/1",
            "payloadUrl": f"https://codebuild.{REGION}.amazonaws.com/webhooks",
            "filterGroups": [[{"type": "EVENT", "pattern": pattern}]]}


def _project(name: str, repo: str, *, privileged: bool, webhook: dict | None, secondary: str | None = None) -> dict:
    project = {
        "name": name,
        "arn": f"arn:aws:codebuild:{REGION}:{OPS}:project/{name}",
        "source": {"type": "GITHUB", "location": f"https://github.com/{repo}.git"},
        "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                        "computeType": "BUILD_GENERAL1_SMALL", "privilegedMode": privileged,
                        "environmentVariables": [{"name": "ECR_REPOSITORY_NAME", "value": "acme/web", "type": "PLAINTEXT"}]},
        "serviceRole": f"arn:aws:iam::{OPS}:role/{name}-codebuild",
    }
    if secondary:
        project["secondarySources"] = [{"type": "GITHUB", "location": f"https://github.com/{secondary}.git",
                                        "sourceIdentifier": "source"}]
    if webhook is not None:
        project["webhook"] = webhook
    return project


def _stub_projects(stubbed: StubbedClients, webhook: dict | None):
    stubbed.stub("codebuild").add_response(
        "batch_get_projects",
        {"projects": [
            _project("acme-web-image", "acme-co/web", privileged=True, webhook=webhook),
            _project("acme-web-manifests", "acme-co/web-manifests", privileged=False, webhook=webhook,
                     secondary="acme-co/web"),
        ], "projectsNotFound": ["acme-web-deploy"]},
        {"names": ["acme-web-image", "acme-web-manifests", "acme-web-deploy"]},   # one call for every project
    )


def test_pull_request_webhooks_pass(org, apps, stubbed):
    _stub_projects(stubbed, _webhook(PR_EVENTS))
    results = {r.id: r for r in check_ci_projects(_ctx(org, apps, stubbed))}
    stubbed.assert_done()
    for kind in ("image", "manifests"):
        hook = results[f"ci.project.{kind}.webhook"]
        assert hook.status is Status.PASS, hook
        assert hook.found == PR_EVENTS
    # The stand-in projects are otherwise right too, so the webhook is the only thing the other tests change.
    assert all(r.status is Status.PASS for r in results.values()), results


def test_missing_webhooks_fail(org, apps, stubbed):
    _stub_projects(stubbed, None)
    results = {r.id: r for r in check_ci_projects(_ctx(org, apps, stubbed))}
    stubbed.assert_done()
    for kind in ("image", "manifests"):
        hook = results[f"ci.project.{kind}.webhook"]
        assert hook.status is Status.FAIL
        assert hook.found == "no webhook"
        assert hook.remedy
        assert hook.link == WEBHOOKS_PAGE
    assert results["ci.project.image.source"].status is Status.PASS


def test_push_only_webhooks_fail(org, apps, stubbed):
    _stub_projects(stubbed, _webhook("PUSH"))
    results = {r.id: r for r in check_ci_projects(_ctx(org, apps, stubbed))}
    stubbed.assert_done()
    for kind in ("image", "manifests"):
        hook = results[f"ci.project.{kind}.webhook"]
        assert hook.status is Status.FAIL
        assert hook.found == "PUSH"
