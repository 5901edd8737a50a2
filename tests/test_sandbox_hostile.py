"""The sandbox in a hostile environment: proxies, a stale or edited sandbox.json, a broken AWS profile.

Every sandbox call must stay on loopback and read nothing of the user's AWS setup;
a state file is trusted only as far as it can be checked. The tests use real
sandboxes (moto in server mode), real boto3 and real listening sockets.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading

import psutil
import pytest

from .tiers import DELIBERATE_FAULTS, starts

from runbook_lib.checks import run_checks
from runbook_lib.checks.result import Status
from runbook_lib.checks.sessions import SandboxClients
from runbook_lib.cli import main as cli_main
from runbook_lib.errors import SandboxError
from runbook_lib.sandbox import keys, server
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


# Every socket.connect this process makes while a watch is on (Python's audit events, not a mock).
_connects: list | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect" and _connects is not None:
        _connects.append(args[1])


sys.addaudithook(_audit)


@contextlib.contextmanager
def watching_connects():
    global _connects
    _connects = []
    try:
        yield _connects
    finally:
        _connects = None


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


A_KEY = "SBXK" + "A" * 32   # the shape of a sandbox key (not a running sandbox's)


def _write_state(directory, **state) -> str:
    text = json.dumps({**state, "key": state.get("key", A_KEY)})
    (directory / "sandbox.json").write_text(text)
    return text


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


def test_terraform_never_proxies_the_sandbox_and_reads_no_aws_files(monkeypatch):
    """Terraform's environment keeps the user's NO_PROXY entries, adds the loopback hosts, and empties the AWS files."""
    monkeypatch.setenv("NO_PROXY", "corp.example, 127.0.0.1")
    monkeypatch.setenv("no_proxy", "build.example")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/home/someone/.aws/config")
    env = sandbox_env()
    assert env["NO_PROXY"] == env["no_proxy"] == "corp.example,127.0.0.1,build.example,localhost"
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("no_proxy")
    assert sandbox_env()["no_proxy"] == "127.0.0.1,localhost"
    # endpoint switches that would send Terraform's calls to another host: cleared (Terraform takes '' as unset)
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    assert sandbox_env()["AWS_USE_FIPS_ENDPOINT"] == sandbox_env()["AWS_USE_DUALSTACK_ENDPOINT"] == ""
    # the sandbox's key signs Terraform's calls; without one (the emulator itself) no credentials are passed on
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALUSERKEY00000")
    assert sandbox_env("SBXK" + "A" * 32)["AWS_ACCESS_KEY_ID"] == "SBXK" + "A" * 32
    assert sandbox_env()["AWS_ACCESS_KEY_ID"] == ""


# -- 2. a stale or edited sandbox.json ------------------------------------------------------------------------


@pytest.fixture(scope="module")
@starts("the sandbox")
def plain_sandbox(tmp_path_factory):
    directory = tmp_path_factory.mktemp("plain-sandbox")
    (directory / DELIBERATE_FAULTS).write_text("this module's tests send calls marked as sent again, on purpose\n")
    running = server.start(directory=directory)
    yield running
    server.stop(directory)


def test_stop_kills_nothing_when_the_file_names_an_unrelated_process(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        _write_state(tmp_path, pid=sleeper.pid, port=5000, url="http://127.0.0.1:5000", log="x")
        assert server.status(tmp_path) is None
        with pytest.raises(SandboxError, match=f"was stale: pid {sleeper.pid} is not the sandbox server on port 5000"):
            server.stop(tmp_path)
        with pytest.raises(subprocess.TimeoutExpired):   # a bounded wait for what must not happen: its end
            sleeper.wait(timeout=0.3)
        assert not (tmp_path / "sandbox.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_file_naming_a_process_that_is_gone_is_removed_quietly(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    _write_state(tmp_path, pid=gone.pid, port=5000, url="http://127.0.0.1:5000", log="x")
    assert server.status(tmp_path) is None
    assert server.stop(tmp_path) is False
    assert not (tmp_path / "sandbox.json").exists()


@pytest.mark.sandbox
def test_stop_kills_no_sandbox_server_but_the_one_on_the_recorded_port(plain_sandbox, tmp_path):
    other_port = plain_sandbox.port + 1 if plain_sandbox.port < 65535 else plain_sandbox.port - 1
    _write_state(tmp_path, pid=plain_sandbox.pid, port=other_port, url=f"http://127.0.0.1:{other_port}", log="x")
    with pytest.raises(SandboxError, match="was stale"):
        server.stop(tmp_path)
    assert psutil.pid_exists(plain_sandbox.pid) and plain_sandbox.answers()


@pytest.mark.sandbox
def test_status_and_stop_refuse_a_url_other_than_the_recorded_loopback_one(plain_sandbox, tmp_path):
    """Same port, another loopback address with a listener on it: refused before any request reaches it."""
    with listening("127.0.0.2", plain_sandbox.port) as elsewhere:
        text = _write_state(tmp_path, pid=plain_sandbox.pid, port=plain_sandbox.port, url=elsewhere.url, log="x")
        for call in (server.status, server.stop, server.start):
            with pytest.raises(SandboxError, match=f"url = '{elsewhere.url}' must be '{plain_sandbox.url}'"):
                call(directory=tmp_path)
        assert elsewhere.connections == []
    assert (tmp_path / "sandbox.json").read_text() == text
    assert plain_sandbox.answers()


@pytest.mark.sandbox
def test_status_makes_no_request_to_a_non_loopback_url(plain_sandbox, tmp_path):
    url = f"http://10.1.2.3:{plain_sandbox.port}"
    _write_state(tmp_path, pid=plain_sandbox.pid, port=plain_sandbox.port, url=url, log="x")
    with watching_connects() as connects:
        try:
            server.status(tmp_path)
        except SandboxError as exc:
            error = str(exc)
    assert connects == []   # checked first: this is what matters
    assert "only talks to loopback" in error


MALFORMED = [
    ("not json", "not readable as JSON"),
    ("[1, 2]", "must be a JSON object with the keys pid, port, url, log, key"),
    ('{"pid": 1, "port": 2}', "must be a JSON object with the keys pid, port, url, log, key"),
    ('{"pid": "12", "port": 5000, "url": "http://127.0.0.1:5000", "log": "x", "key": "SBXKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', "pid = '12' must be an integer"),
    ('{"pid": 12, "port": true, "url": "http://127.0.0.1:1", "log": "x", "key": "SBXKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', "port = True must be an integer"),
    ('{"pid": 12, "port": 5000, "url": null, "log": "x", "key": "SBXKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', "url = None must be a string"),
    ('{"pid": -1, "port": 5000, "url": "http://127.0.0.1:5000", "log": "x", "key": "SBXKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', "pid = -1 must be a process id"),
    ('{"pid": 12, "port": 70000, "url": "http://127.0.0.1:70000", "log": "x", "key": "SBXKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', "port = 70000 is not a TCP port"),
    ('{"pid": 12, "port": 5000, "url": "http://127.0.0.1:5000", "log": "x", "key": "sandbox"}',
     "key is not a sandbox key (not shown)"),
]


@pytest.mark.parametrize(("text", "problem"), MALFORMED, ids=[problem for _, problem in MALFORMED])
def test_a_malformed_file_is_a_clear_error_and_changes_nothing(tmp_path, text, problem):
    (tmp_path / "sandbox.json").write_text(text)
    for call in (server.status, server.stop, server.start):
        with pytest.raises(SandboxError) as exc:
            call(directory=tmp_path)
        assert f"{tmp_path / 'sandbox.json'}: {problem}" in str(exc.value)
        assert "nothing was stopped or contacted; delete the file" in str(exc.value)
    assert (tmp_path / "sandbox.json").read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sandbox.json"]   # start wrote no log, ran no server


def test_the_cli_reports_a_malformed_file_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(tmp_path))
    (tmp_path / "sandbox.json").write_text('{"pid": 1}')
    for action in ("status", "stop"):
        assert cli_main(["sandbox", action]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {tmp_path / 'sandbox.json'}: must be a JSON object") and "Traceback" not in err


# -- 3. the user's AWS profile and files ---------------------------------------------------------------------


@pytest.mark.sandbox
def test_aws_profile_and_files_of_the_user_are_ignored(tmp_path, monkeypatch, org):
    broken = tmp_path / "broken-aws-file"
    broken.write_text("[default\nthis is not an ini file")
    monkeypatch.setenv("AWS_PROFILE", "nonexistent")
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(broken))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(broken))
    directory = tmp_path / "sandbox"
    running = server.start(directory=directory)
    try:
        _aws_checks_pass(org, running.url)
    finally:
        server.stop(directory)


def _get_with(url: str, headers: dict[str, str]) -> None:
    import urllib.request

    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {**headers, keys.KEY_HEADER: keys.key_for(url)}
    with direct.open(urllib.request.Request(f"{url}/runbook-sandbox/health", headers=headers), timeout=10) as answer:
        answer.read()   # the whole answer: the server logged the request before it wrote the body
        assert answer.status == 200


def _log_after(running, headers: dict[str, str]) -> str:
    """What the emulator logged for one request with ``headers`` (its lines after the request line)."""
    log = open(running.log, errors="replace")
    log.seek(0, os.SEEK_END)
    _get_with(running.url, headers)
    return log.read()


def test_the_emulator_log_names_a_call_the_client_sent_again(plain_sandbox):
    again = _log_after(plain_sandbox, {"amz-sdk-request": "attempt=2; max=25", "amz-sdk-invocation-id": "call-7"})
    assert "^ sent again by the client: attempt=2; max=25 (call call-7, ? GET /runbook-sandbox/health)" in again
    first = _log_after(plain_sandbox, {"amz-sdk-request": "attempt=1; max=25", "amz-sdk-invocation-id": "call-8"})
    assert "GET /runbook-sandbox/health" in first and "sent again" not in first


def test_a_huge_retry_header_is_logged_cut_short(plain_sandbox):
    """Hostile: a client's header of 4,000 characters does not flood the emulator's log."""
    logged = _log_after(plain_sandbox, {"amz-sdk-request": "attempt=3; " + "x" * 4000, "amz-sdk-invocation-id": "y" * 4000})
    [line] = [line for line in logged.splitlines() if "sent again" in line]
    assert len(line) < 300 and "x" * 69 in line and "x" * 81 not in line


def test_a_home_that_is_not_a_folder_is_one_clear_error(tmp_path, monkeypatch, capsys):
    """Hostile: HOME names a file, so the default sandbox folder cannot be made: one line, exit 2, no traceback."""
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    monkeypatch.delenv(server.SANDBOX_DIR_ENV, raising=False)
    monkeypatch.setattr(server, "DEFAULT_DIR", home / ".cache" / "eks-cicd-runbooks" / "sandbox")   # as HOME=<file> makes it
    assert cli_main(["sandbox", "start"]) == 2
    err = capsys.readouterr().err
    assert f"the sandbox's folder {home}/.cache/eks-cicd-runbooks/sandbox cannot be made or used (Not a directory)" in err
    assert "RUNBOOK_SANDBOX_DIR" in err and "Traceback" not in err
