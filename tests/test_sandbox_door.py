"""The emulator answers the runbook's own clients only: the sandbox's key, its own Host, no browser, no moto-api.

Each attack is made against a real emulator over HTTP, and each is shown to change nothing:
the state is read back afterwards with the sandbox's own clients.
"""

from __future__ import annotations

import http.client
import json
import os
import stat
import subprocess
import sys

import pytest

from runbook_lib.parameters import load_org
from runbook_lib.sandbox import keys, server
from runbook_lib.sandbox.clients import SandboxSessions
from runbook_lib.sandbox.seed import seed

from .conftest import ORG_FILE, ROOT
from .tiers import DELIBERATE_FAULTS, starts

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
OPS = "111111111111"


@pytest.fixture(scope="module")
@starts("the sandbox")
def door(tmp_path_factory):
    directory = tmp_path_factory.mktemp("door-sandbox")
    running = server.start(directory=directory)
    (directory / DELIBERATE_FAULTS).write_text("a call id is sent again without the key on purpose\n")
    org = load_org(ORG_FILE)
    seed(org, running.url)
    yield running, directory, SandboxSessions(running.url, org.region, org.terraform_role_name)
    server.stop(directory)


def _raw(running, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, dict, bytes]:
    """One request as a foreign client would send it (http.client adds Host: 127.0.0.1:PORT unless given)."""
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def _repositories(aws) -> list[str]:
    """Every repository, in the Operations account and in the one a bare key lands in (moto's default account)."""
    from runbook_lib.sandbox.clients import boto3_session, client_config

    bare = boto3_session("us-east-1", aws_access_key_id=keys.key_for(aws.endpoint),
                         aws_secret_access_key=keys.SIGNING_SECRET).client("ecr", endpoint_url=aws.endpoint,
                                                                            config=client_config())
    return sorted(r["repositoryName"] for ecr in (aws.client("ecr", OPS), bare)
                  for r in ecr.describe_repositories()["repositories"])


def _create_repository(running, name: str, access_key: str, **headers: str) -> tuple[int, dict, bytes]:
    """An ECR CreateRepository as the SDK sends it, signed (in form) with ``access_key``."""
    auth = f"AWS4-HMAC-SHA256 Credential={access_key}/20261207/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=0"
    return _raw(running, "POST", "/", json.dumps({"repositoryName": name}).encode(), Authorization=auth,
                X_Amz_Target="AmazonEC2ContainerRegistry_V20150921.CreateRepository",
                Content_Type="application/x-amz-json-1.1", **headers)


def test_the_key_opens_the_door_and_nothing_else_does(door):
    running, _directory, aws = door
    assert _repositories(aws) == []
    attacks = {
        "no signature": _raw(running, "POST", "/", b"{}", X_Amz_Target="AmazonEC2ContainerRegistry_V20150921.CreateRepository"),
        "the old fixed key": _create_repository(running, "by-old-key", "sandbox"),
        "a key of another sandbox's shape": _create_repository(running, "by-guess", "SBXK" + "A" * 32),
        "a browser page": _create_repository(running, "by-page", running.key, Origin="http://127.0.0.2:8000"),
        "a browser's fetch metadata": _create_repository(running, "by-fetch", running.key, Sec_Fetch_Site="cross-site"),
        "a foreign Host (DNS rebinding)": _create_repository(running, "by-rebind", running.key, Host="evil.example:80"),
    }
    for attack, (status, headers, body) in attacks.items():
        assert status == 403, (attack, status, body)
        assert not [h for h in headers if h.lower().startswith("access-control-")], (attack, headers)
        assert running.key.encode() not in body, attack
    assert _repositories(aws) == []   # nothing was created by any of them
    status, _headers, body = _create_repository(running, "by-the-key", running.key)
    assert status == 200, body
    issued = aws.session(OPS).get_credentials().access_key   # what the emulator's STS gave for the key
    status, _headers, body = _create_repository(running, "by-an-issued-key", issued)
    assert status == 200, body
    assert _repositories(aws) == ["by-an-issued-key", "by-the-key"]


def test_moto_api_is_off_and_the_sandboxs_own_routes_take_the_key(door):
    running, directory, aws = door
    before = _repositories(aws)
    for method, path in (("GET", "/moto-api/data.json"), ("POST", "/moto-api/reset"),
                         ("POST", "/moto-api/recorder/start-recording"), ("POST", "/moto-api/recorder/replay-recording")):
        status, _headers, body = _raw(running, method, path)
        assert status == 404 and b"moto's own endpoints are off" in body, (path, status, body)
    for path in ("/runbook-sandbox/reset", "/runbook-sandbox/snapshot/save", "/runbook-sandbox/health"):
        status, _headers, body = _raw(running, "POST", path, json.dumps({"name": "x"}).encode())
        assert status == 403 and keys.KEY_HEADER.encode() in body, (path, status, body)
    assert _repositories(aws) == before   # reset refused: the state is what it was
    assert not (directory / "snapshots" / "x.snapshot").exists()
    assert not list(ROOT.glob("moto_recording*")) and not list(directory.glob("moto_recording*"))


def test_the_sandboxs_folder_and_files_are_its_owners_only_and_the_key_is_never_shown(door, capsys, monkeypatch):
    running, directory, _aws = door
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "sandbox.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / "emulator.log").stat().st_mode) == 0o600
    assert running.key not in repr(running)
    from runbook_lib.cli import main

    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(directory))
    assert main(["sandbox", "status"]) == 0
    assert running.key not in capsys.readouterr().out
    assert running.key not in (directory / "emulator.log").read_text(errors="replace")


def test_sandbox_env_points_the_aws_cli_at_the_operations_account(door):
    running, directory, _aws = door
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update({server.SANDBOX_DIR_ENV: str(directory), "AWS_PROFILE": "a-profile-that-does-not-exist",
                "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"})
    runbook = f"{sys.executable} -m runbook_lib.cli"
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    script = f'eval "$({runbook} sandbox env)" && {aws} sts get-caller-identity --output json'
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == OPS
    refused = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "sandbox", "env", "--account", "999999999999"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--account '999999999999' is not an account of" in refused.stderr + refused.stdout
    assert "export" not in refused.stdout


def test_a_kept_answer_is_given_to_the_keys_holders_only(door):
    """Hostile: the id of a call already answered, sent again without the key, gets 403, not the kept answer."""
    running, _directory, aws = door
    status, _headers, body = _create_repository(running, "kept-answer", running.key, amz_sdk_invocation_id="inv-door-1")
    assert status == 200 and b"kept-answer" in body
    status, _headers, body = _create_repository(running, "kept-answer", "SBXK" + "B" * 32,
                                                amz_sdk_invocation_id="inv-door-1", amz_sdk_request="attempt=2; max=3")
    assert status == 403 and b"kept-answer" not in body
