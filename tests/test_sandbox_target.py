"""The sandbox target and server without a full apply: loopback only, same roots as live, clear errors."""

from __future__ import annotations

import socket
import subprocess

import pytest

from runbook_lib.errors import SandboxError, TerraformError
from runbook_lib.render import render_files, write_files
from runbook_lib.targets import make_target
from runbook_lib.sandbox import server
from runbook_lib.sandbox.clients import SandboxSessions
from runbook_lib.sandbox.loopback import require_loopback
from runbook_lib.sandbox.target import SandboxTarget
from runbook_lib.terraform.runner import Terraform
from runbook_lib.validate import Status, validate_tree

from .conftest import needs_terraform

ENDPOINT = "http://127.0.0.1:45999"


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000", "http://localhost:1", "http://[::1]:80", "http://127.1.2.3:9"])
def test_loopback_endpoints_are_accepted(url):
    assert require_loopback(url) == url


@pytest.mark.parametrize("url", ["https://s3.amazonaws.com", "http://10.0.0.5:5000", "http://169.254.169.254",
                                 "http://example.com", "ftp://127.0.0.1"])
def test_anything_else_is_refused(url):
    with pytest.raises(SandboxError, match="only talks to loopback"):
        require_loopback(url)


def test_sandbox_clients_and_target_refuse_real_endpoints():
    with pytest.raises(SandboxError):
        SandboxSessions("https://sts.amazonaws.com", "us-east-1", "terraform-execution")
    with pytest.raises(SandboxError):
        SandboxTarget(endpoint="https://sts.us-east-1.amazonaws.com")


def test_sandbox_target_needs_a_running_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(tmp_path))
    with pytest.raises(SandboxError, match="runbook sandbox start"):
        make_target("sandbox")


def test_sandbox_and_live_differ_only_in_providers_and_backend(org, apps):
    """One rendering for both targets: the same files, byte for byte, but providers.tf and backend.tf."""
    live = render_files(org, apps["web"], make_target("live"))
    sandbox = render_files(org, apps["web"], SandboxTarget(endpoint=ENDPOINT))
    assert set(sandbox) == set(live)
    differ = sorted(rel for rel in live if sandbox[rel] != live[rel])
    assert differ and all(rel.endswith(("/providers.tf", "/backend.tf")) for rel in differ), differ
    assert ENDPOINT in sandbox["infra/cicd-common/providers.tf"]
    assert ENDPOINT not in "".join(live.values())
    pinned = ('source = "git::https://github.com/thoughtbot/terraform-eks-cicd.git//modules/cicd-pipeline'
              '?ref=82ebade0e18d03c5eaf9cb15733291bd1833db9f"')
    assert pinned in sandbox["infra/cd/web/main.tf"] == live["infra/cd/web/main.tf"]


@needs_terraform()
@pytest.mark.terraform
def test_sandbox_rendering_passes_static_validation(org, apps, tmp_path):
    target = SandboxTarget(endpoint=ENDPOINT)
    write_files(tmp_path, render_files(org, apps["worker"], target))
    findings = validate_tree(org, apps["worker"], target, tmp_path)
    assert all(f.status is Status.PASS for f in findings), [f for f in findings if f.status is Status.FAIL]


def test_port_already_taken_is_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(SandboxError, match=f"port {port} on 127.0.0.1 is already in use"):
            server.start(port=port, directory=tmp_path)
    assert not (tmp_path / "sandbox.json").exists()


def test_status_and_stop_without_a_sandbox(tmp_path):
    assert server.status(tmp_path) is None
    assert server.stop(tmp_path) is False


@needs_terraform()
@pytest.mark.terraform
def test_provider_that_cannot_be_installed_offline(tmp_path, monkeypatch):
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    monkeypatch.setenv("RUNBOOK_TF_PROVIDER_MIRROR", str(empty_mirror))
    root = tmp_path / "root"
    root.mkdir()
    (root / "versions.tf").write_text(
        'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "~> 5.0"\n    }\n  }\n}\n')
    with pytest.raises(TerraformError) as exc:
        Terraform(root, plugin_cache=False, sink=lambda _: None).init()
    assert "could not install the AWS provider" in str(exc.value)
    assert "RUNBOOK_TF_PROVIDER_MIRROR" in str(exc.value)


def test_unknown_target_on_the_cli(capsys):
    from runbook_lib.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["apply", "--target", "staging"])
    assert exc.value.code == 2
    assert "invalid choice: 'staging'" in capsys.readouterr().err


@needs_terraform()
def test_sandbox_server_starts_answers_and_stops(tmp_path):
    running = server.start(directory=tmp_path)
    try:
        assert running.url.startswith("http://127.0.0.1:")
        assert server.status(tmp_path) == running
        assert server.start(directory=tmp_path) == running  # a second start finds the running one
        def code(path: str, *headers: str) -> str:
            command = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "*", running.url + path]
            return subprocess.run([*command, *[w for h in headers for w in ("-H", h)]], capture_output=True,
                                  text=True).stdout

        health = "/runbook-sandbox/health"
        assert code(health, f"X-Runbook-Sandbox-Key: {running.key}") == "200"
        assert code(health) == "403" and code(health, "X-Runbook-Sandbox-Key: SBXK" + "A" * 32) == "403"
        assert code("/moto-api/") == "404" and code("/moto-api/data.json") == "404"
    finally:
        assert server.stop(tmp_path) is True
    assert server.status(tmp_path) is None
