"""The sandbox in a hostile environment: proxies.

Every sandbox call must stay on loopback, whatever the proxy variables say. The
tests use real sandboxes (moto in server mode), real boto3 and real listening sockets.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from runbook_lib.checks import run_checks
from runbook_lib.checks.result import Status
from runbook_lib.checks.sessions import SandboxClients
from runbook_lib.sandbox import server
from runbook_lib.sandbox.clients import sandbox_env
from runbook_lib.sandbox.seed import seed

OPS, STAGING = "111111111111", "222222222222"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
# Preflight checks that run locally (the Terraform CLI and provider), not through boto3.
LOCAL_CHECKS = ("pre.terraform", "pre.aws-provider")


class Listener:
    """A TCP listener on a loopback address that records every connection made to it.

    It answers each one with a 502, as a proxy that cannot reach the target would.
    """

    def __init__(self, host: str, port: int = 0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen()
        self.sock.settimeout(0.1)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.connections: list[bytes] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.connections.append(conn.recv(4096))
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    self.connections.append(b"")

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.sock.close()


@contextlib.contextmanager
def listening(host: str, port: int = 0):
    listener = Listener(host, port)
    try:
        yield listener
    finally:
        listener.close()


def _aws_checks_pass(org, url: str) -> None:
    """Seed the sandbox, run the preflight checks through SandboxClients: every AWS check passes."""
    seed(org, url)
    clients = SandboxClients(url, org.region, org.terraform_role_name)
    results = [r for r in run_checks(org, None, clients, "preflight") if r.id not in LOCAL_CHECKS]
    assert {r.id for r in results} >= {"pre.identity.operations", "pre.identity.staging", "pre.github-token-parameter",
                                       "pre.state-bucket", "pre.cluster.staging.acme-staging"}
    assert all(r.status is Status.PASS for r in results), [(r.id, r.status, r.found) for r in results]
    eks = clients.client("eks", STAGING, "us-west-2")
    assert eks.describe_cluster(name="acme-staging-west")["cluster"]["status"] == "ACTIVE"


# -- 1. proxies ---------------------------------------------------------------------------------------------


@pytest.mark.sandbox
def test_no_sandbox_call_goes_through_a_proxy(tmp_path, monkeypatch, org):
    """The status probe, seeding (with the GitHub token) and the checks all bypass the proxy the environment names."""
    with listening("127.0.0.2") as proxy:
        for name in PROXY_VARS:
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        running = server.start(directory=tmp_path)
        try:
            assert server.status(tmp_path) == running
            _aws_checks_pass(org, running.url)
        finally:
            server.stop(tmp_path)
        assert proxy.connections == []


def test_terraform_never_proxies_the_sandbox(monkeypatch):
    """Terraform's environment keeps the user's NO_PROXY entries and adds the loopback hosts."""
    monkeypatch.setenv("NO_PROXY", "corp.example, 127.0.0.1")
    monkeypatch.setenv("no_proxy", "build.example")
    env = sandbox_env()
    assert env["NO_PROXY"] == env["no_proxy"] == "corp.example,127.0.0.1,build.example,localhost"
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("no_proxy")
    assert sandbox_env()["no_proxy"] == "127.0.0.1,localhost"
