"""The emulator under concurrent calls: one answer per call, never a 500 that makes an SDK send a create again.

moto's backends hold no locks. Before the server handed moto one request at a time,
a listing that met a create on another thread failed with HTTP 500 (``dictionary changed
size during iteration``), and the Terraform AWS provider's SDK then sent the call again;
a create sent again met its own resource (``EntityAlreadyExists``).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import threading
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from runbook_lib.sandbox import server
from runbook_lib.sandbox.clients import NO_PROXIES
from runbook_lib.sandbox.keys import KEY_HEADER, SIGNING_SECRET, key_for
from runbook_lib.sandbox.serve import DROPPED_MARK, FAILED_MARK, MAX_BODY, RESENT_MARK, one_at_a_time

THREADS, CALLS = 12, 25
TRUST = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "codebuild.amazonaws.com"}}]}'
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"}).merge(NO_PROXIES)


class _Probe:
    """A WSGI app that counts how many of its calls overlap (each holds on for a moment)."""

    def __init__(self):
        self.lock, self.inside, self.most = threading.Lock(), 0, 0

    def __call__(self, environ, start_response):
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.02)
        body = environ["wsgi.input"].read()
        with self.lock:
            self.inside -= 1
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]


@contextlib.contextmanager
def _serving(app):
    """``one_at_a_time`` around ``app``, on werkzeug's threaded server (the server moto runs on); yields its port."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, one_at_a_time(app), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    thread.join(10)


@pytest.fixture
def served():
    probe = _Probe()
    with _serving(probe) as port:
        yield probe, port


def _post(port: int, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/", body=body)
    response = connection.getresponse()
    answer = response.status, response.read()
    connection.close()
    return answer


def test_the_app_is_handed_one_request_at_a_time(served):
    """Sixteen clients at once: each gets its own body back, and the app never runs two calls together."""
    probe, port = served
    answers: dict[int, tuple[int, bytes]] = {}
    threads = [threading.Thread(target=lambda n=n: answers.__setitem__(n, _post(port, b"call %d" % n)))
               for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == {n: (200, b"call %d" % n) for n in range(16)}
    assert probe.most == 1


def test_a_client_that_stalls_mid_body_keeps_no_one_waiting(served):
    """Bodies are read before the lock: a half-sent request does not hold up the next one."""
    probe, port = served
    stalled = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    stalled.putrequest("POST", "/")
    stalled.putheader("Content-Length", "20")
    stalled.endheaders()
    stalled.send(b"first half")
    assert _post(port, b"meanwhile") == (200, b"meanwhile")
    stalled.send(b"+2nd half")
    stalled.send(b"!")
    response = stalled.getresponse()
    assert (response.status, response.read()) == (200, b"first half+2nd half!")
    stalled.close()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    directory = tmp_path_factory.mktemp("concurrency-sandbox")
    running = server.start(directory=directory)
    yield running
    server.stop(directory)


def _iam(url: str):
    return boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key_for(url),
                        aws_secret_access_key=SIGNING_SECRET, config=NO_RETRIES)


@pytest.mark.sandbox
def test_parallel_creates_and_listings_all_answer_once(emulator):
    """Half the threads create roles while the other half list them; with retries off, every call succeeds."""
    failures: list[str] = []
    before = len(open(emulator.log).read())

    def work(worker: int) -> None:
        client = _iam(emulator.url)
        for call in range(CALLS):
            try:
                if worker % 2:
                    client.create_role(RoleName=f"concurrency-{worker}-{call}", AssumeRolePolicyDocument=TRUST)
                else:
                    client.list_roles(MaxItems=1000)
            except ClientError as exc:
                failures.append(f"worker {worker} call {call}: {exc}")

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    created = _iam(emulator.url).get_paginator("list_roles").paginate().build_full_result()["Roles"]
    assert len(created) == THREADS // 2 * CALLS
    log = open(emulator.log).read()[before:]
    for mark in (RESENT_MARK, DROPPED_MARK, FAILED_MARK):
        assert mark not in log


@pytest.mark.sandbox
def test_a_body_over_the_limit_is_refused_before_moto_sees_it(emulator):
    """A declared body over the limit gets 413 at once, before any of it is read."""
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    connection.putrequest("POST", "/")
    connection.putheader("Content-Length", str(MAX_BODY + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert b"EntityTooLarge" in response.read()
    connection.close()


def test_a_chunked_body_arrives_whole(served):
    """A body sent in several chunks (no Content-Length) reaches the app whole."""
    _probe, port = served
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/", body=iter([b"first chunk, ", b"second, ", b"third"]))   # chunked, as it has no length
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"first chunk, second, third")
    connection.close()


@pytest.mark.sandbox
def test_snapshot_requests_take_only_a_plain_name_and_only_the_sandboxs_own_folder(emulator, tmp_path):
    """Hostile: a path for a name, a missing snapshot, a GET, a body that is not JSON: refused, nothing written."""
    import json

    from runbook_lib.errors import SandboxError
    from runbook_lib.sandbox.serve import SNAPSHOT_LOAD_PATH, SNAPSHOT_SAVE_PATH

    directory = Path(emulator.log).parent
    with pytest.raises(SandboxError, match="snapshot name '../../x' is not allowed"):
        server.save_snapshot("../../x", directory)
    key = {KEY_HEADER: emulator.key}
    for path, body, status, headers in (
            (SNAPSHOT_SAVE_PATH, {"name": "../../x"}, 400, key), (SNAPSHOT_LOAD_PATH, {"name": "/etc"}, 400, key),
            (SNAPSHOT_SAVE_PATH, {"name": 7}, 400, key), (SNAPSHOT_LOAD_PATH, "not json", 400, key),
            (SNAPSHOT_SAVE_PATH, {"name": "fine"}, 403, {}),   # a good request without the sandbox's key
            (SNAPSHOT_SAVE_PATH, {"name": "fine"}, 403, {KEY_HEADER: "SBXK" + "A" * 32})):
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
        connection.request("POST", path, body=json.dumps(body).encode() if isinstance(body, dict) else body.encode(),
                           headers=headers)
        response = connection.getresponse()
        assert response.status == status, (path, body, response.read())
        response.read()
        connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
    connection.request("GET", SNAPSHOT_SAVE_PATH, headers=key)
    assert connection.getresponse().status == 405
    connection.close()
    with pytest.raises(SandboxError, match="no snapshot 'never-saved'"):
        server.load_snapshot("never-saved", directory)
    assert not (directory / "snapshots").exists() and not (tmp_path.parent / "x.snapshot").exists()


class _Counting:
    """A WSGI app that echoes each body and counts its calls; ``hold`` keeps the first call waiting until set."""

    def __init__(self, answer_size: int = 0):
        self.calls, self.entered, self.hold, self.answer_size = 0, threading.Event(), threading.Event(), answer_size

    def __call__(self, environ, start_response):
        self.calls += 1
        self.entered.set()
        self.hold.wait(30)
        body = environ["wsgi.input"].read() + b"x" * self.answer_size + b" #%d" % self.calls
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture
def counting(request):
    app = _Counting(getattr(request, "param", 0))
    with _serving(app) as port:
        yield app, port


def _attempt(port: int, body: bytes, call: str, attempt: int) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/", body=body, headers={"amz-sdk-invocation-id": call,
                                                         "amz-sdk-request": f"attempt={attempt}; max=3"})
    answer = connection.getresponse().read()
    connection.close()
    return answer


def test_a_call_sent_again_gets_its_first_answer_and_the_app_runs_it_once(counting):
    """Attempts of one call (one invocation id) run once; another call runs again."""
    app, port = counting
    app.hold.set()
    first = _attempt(port, b"create", "call-a", 1)
    assert first == b"create #1"
    assert _attempt(port, b"create", "call-a", 2) == first
    assert app.calls == 1
    assert _attempt(port, b"create", "call-b", 1) == b"create #2"


def test_an_attempt_sent_while_the_first_is_answered_waits_for_its_answer(counting):
    """The second attempt arrives while the first is still inside the app: it waits, and gets the same answer."""
    app, port = counting
    answers: list[bytes] = []
    first = threading.Thread(target=lambda: answers.append(_attempt(port, b"create", "call-c", 1)))
    first.start()
    assert app.entered.wait(30)
    second = threading.Thread(target=lambda: answers.append(_attempt(port, b"create", "call-c", 2)))
    second.start()
    app.hold.set()
    first.join(30)
    second.join(30)
    assert answers == [b"create #1", b"create #1"] and app.calls == 1


@pytest.mark.parametrize("counting", [2 * 1024 * 1024], indirect=True)
def test_a_large_answer_is_not_kept_and_its_call_runs_again(counting):
    """Answers over the kept size (S3 objects) are not held in memory: the call sent again runs again."""
    app, port = counting
    app.hold.set()
    _attempt(port, b"get", "call-d", 1)
    assert _attempt(port, b"get", "call-d", 2).endswith(b" #2")


class _LosesOneAnswer:
    """A loopback relay in front of the emulator that drops the answer to the first call naming ``target``.

    The emulator has done the call; the client sees the connection close with no answer, as when a
    connection breaks on the wire, and its SDK sends the call again.
    """

    def __init__(self, upstream: int, target: bytes):
        import socket

        self.upstream, self.target, self.dropped = upstream, target, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client) -> None:
        import socket

        request = b""
        while b"\r\n\r\n" not in request:
            request += client.recv(65536)
        head, _, body = request.partition(b"\r\n\r\n")
        length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), b"0"))
        while len(body) < length:
            body += client.recv(65536)
        # the emulator answers its own Host only (the relay is a hop the SDK does not know of)
        head = re.sub(rb"(?im)^host: 127\.0\.0\.1:\d+", b"Host: 127.0.0.1:%d" % self.upstream, head)
        with socket.create_connection(("127.0.0.1", self.upstream)) as upstream:
            upstream.sendall(head + b"\r\n\r\n" + body)
            answer = b""
            while chunk := upstream.recv(65536):
                answer += chunk
        if self.target in head and not self.dropped:
            self.dropped += 1
        else:
            client.sendall(answer)
        client.close()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.sandbox
def test_a_create_whose_answer_is_lost_is_sent_again_by_the_sdk_and_made_once(emulator):
    """A real SDK retry: the first CreateRepository's answer is lost, boto3 sends it again, the repository exists once."""
    relay = _LosesOneAnswer(emulator.port, b"CreateRepository")
    try:
        ecr = boto3.client("ecr", endpoint_url=f"http://127.0.0.1:{relay.port}", region_name="us-east-1",
                           aws_access_key_id=key_for(emulator.url), aws_secret_access_key=SIGNING_SECRET,
                           config=Config(retries={"max_attempts": 3, "mode": "standard"}).merge(NO_PROXIES))
        created = ecr.create_repository(repositoryName="answer-lost-once")
    finally:
        relay.close()
    assert relay.dropped == 1
    assert created["ResponseMetadata"]["RetryAttempts"] == 1
    assert created["repository"]["repositoryName"] == "answer-lost-once"
    log = open(emulator.log).read()
    assert RESENT_MARK in log and "ecr CreateRepository" in log and "first attempt's answer" in log
