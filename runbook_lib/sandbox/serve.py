"""The sandbox server process: moto in server mode with the sandbox's patches and stand-ins applied.

Run as ``python -m runbook_lib.sandbox.serve --directory DIR --port N``; it binds 127.0.0.1 only.

moto's backends are plain dicts and lists with no locks, and werkzeug serves each
connection on a thread of its own. Two calls at once (Terraform makes ten) can meet
inside one backend: a listing that iterates a dict while a create adds to it fails
with ``dictionary changed size during iteration``, the client sees HTTP 500, and the
AWS SDK sends the call again. When that call was a create whose resource already
existed by then, the second attempt met it (``EntityAlreadyExists``). So the server
reads each request's body first (slow clients keep no one waiting), then hands moto
one request at a time, and writes the answer outside the lock.

Nothing answers a request that lacks the sandbox's key (``keys.py``, ``guarded``): a
browser page, another user of the machine or a foreign ``Host`` gets 403, and moto's own
``/moto-api/`` endpoints (its state dump, reset and recorder) are off.

An SDK also sends a call again when the connection broke after the emulator had
answered (the answer lost on the wire). Every attempt of one call carries the same
``amz-sdk-invocation-id``, so the server keeps the last answers by that id: a call
sent again gets the answer its first attempt got, and moto sees it once. A create is
never made twice, whatever happened on the wire.
"""

from __future__ import annotations

import argparse
import hmac
import io
import json
import os
import re
import signal
import sys
import threading
from collections import OrderedDict
from typing import Any, Callable, Iterable

from .keys import KEY_ENV, KEY_HEADER, KEY_PATTERN

# Headers every AWS SDK sends: the attempt number of a call, and an id shared by all attempts of one call.
ATTEMPT_HEADER = "amz-sdk-request"
INVOCATION_HEADER = "amz-sdk-invocation-id"
SHOWN = 80   # characters of a header value the log shows at most
# The largest request body the sandbox takes (S3 objects here are Terraform state and build artifacts).
MAX_BODY = 64 * 1024 * 1024
# How many calls' answers the server keeps for their attempts sent again, and how long an attempt
# waits for an earlier attempt of its call still being answered.
KEPT_ANSWERS = 512
KEPT_ANSWER_BYTES = 1024 * 1024   # a larger answer (an S3 object) is not kept: its call, sent again, runs again
EARLIER_ATTEMPT_WAIT = 120.0
# What the emulator's log says when a call went wrong on the wire; a test sandbox's log must hold none of them.
RESENT_MARK = "sent again by the client"
REPLAYED_MARK = "answered with its first attempt's answer"
DROPPED_MARK = "connection lost before the whole answer was sent"
FAILED_MARK = "Error on request:"
CALL_KEY = "runbook.call"   # the service and operation of a request, for the log (set once its body is read)
REPLAYED_KEY = "runbook.replayed"   # set when a call sent again got its first attempt's kept answer
_SCOPE = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/]+)/")
# The access key id of a signed request: in its Authorization header, or in its query (a presigned URL).
_KEY_ID = re.compile(r"Credential=([A-Za-z0-9]+)/")
_QUERY_KEY_ID = re.compile(r"(?:^|&)X-Amz-Credential=([A-Za-z0-9]+)(?:/|%2F)", re.IGNORECASE)
# The sandbox's own requests, each answered only with the key in keys.KEY_HEADER.
OWN_PREFIX = "/runbook-sandbox/"
HEALTH_PATH = "/runbook-sandbox/health"
RESET_PATH = "/runbook-sandbox/reset"
MOTO_API_PREFIX = "/moto-api"
# Headers that would let a browser page read an answer (moto adds them unless told not to: MOTO_DISABLE_GLOBAL_CORS).
_CORS = "access-control-"
_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z0-9]+)")


def log_retries_and_drops() -> None:
    """Make the emulator's log say what a request line hides: a call the client sent again, an answer not delivered."""
    from werkzeug.serving import WSGIRequestHandler

    request_line = WSGIRequestHandler.log_request

    def log_request(self, code="-", size="-") -> None:
        request_line(self, code, size)
        headers = getattr(self, "headers", None)
        attempt = headers.get(ATTEMPT_HEADER, "") if headers else ""
        number = re.match(r"attempt=(\d+)", attempt)
        if number and number.group(1) != "1":
            call = getattr(self, "environ", {}).get(CALL_KEY, "?")
            replayed = f"; {REPLAYED_MARK}" if getattr(self, "environ", {}).get(REPLAYED_KEY) else ""
            self.log("info", "  ^ %s: %s (call %s, %s)%s", RESENT_MARK,
                     attempt[:SHOWN], headers.get(INVOCATION_HEADER, "?")[:SHOWN], call[:SHOWN], replayed)

    def connection_dropped(self, error, environ=None) -> None:
        call = (environ or {}).get(CALL_KEY, "?")
        invocation = (environ or {}).get("HTTP_" + INVOCATION_HEADER.upper().replace("-", "_"), "")
        self.log("info", "  ^ %s: %s (call %s%s)", DROPPED_MARK, type(error).__name__,
                 f"{invocation[:SHOWN]}, " if invocation else "", call[:SHOWN])

    WSGIRequestHandler.log_request = log_request
    WSGIRequestHandler.connection_dropped = connection_dropped


def _too_large(start_response: Callable) -> list[bytes]:
    body = (b"<Error><Code>EntityTooLarge</Code><Message>The sandbox takes request bodies of at most "
            + str(MAX_BODY).encode() + b" bytes.</Message></Error>")
    start_response("413 Request Entity Too Large", [("Content-Type", "application/xml"),
                                                     ("Content-Length", str(len(body)))])
    return [body]


# The sandbox-only requests that save the emulator's whole state to a file in its folder, and load it back.
SNAPSHOT_SAVE_PATH = "/runbook-sandbox/snapshot/save"
SNAPSHOT_LOAD_PATH = "/runbook-sandbox/snapshot/load"
SNAPSHOT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def _json(start_response: Callable, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def snapshots(directory: str) -> Callable:
    """Answer the save and load requests; a snapshot is named, and lives in ``directory/snapshots`` only."""
    from . import snapshot

    folder = os.path.join(directory, "snapshots")

    def handle(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _json(start_response, "405 Method Not Allowed", {"error": "snapshots take POST"})
        try:
            name = json.loads(environ["wsgi.input"].read() or b"{}")["name"]
        except (ValueError, KeyError, TypeError):
            return _json(start_response, "400 Bad Request", {"error": 'the body must be JSON: {"name": ...}'})
        if not isinstance(name, str) or not SNAPSHOT_NAME.fullmatch(name):
            return _json(start_response, "400 Bad Request",
                         {"error": f"snapshot name {name!r}: lowercase letters, digits and '-', at most 63"})
        file = os.path.join(folder, name + snapshot.SUFFIX)
        if environ["PATH_INFO"] == SNAPSHOT_SAVE_PATH:
            data = snapshot.dumps()
            os.makedirs(folder, mode=0o700, exist_ok=True)
            partial = file + ".partial"
            with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
                handle.write(data)
            os.replace(partial, file)
            return _json(start_response, "200 OK", {"saved": file, "bytes": len(data)})
        try:
            with open(file, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return _json(start_response, "404 Not Found", {"error": f"no snapshot {name!r} in {folder}"})
        return _json(start_response, "200 OK", {"loaded": file, "services": snapshot.loads(data)})

    return handle


GITHUB_EVENT_PATH = "/runbook-sandbox/github/event"


def github_events(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    """Deliver a repository event of the sandbox's GitHub to every CodeBuild webhook it passes; starts their builds."""
    from ..errors import SandboxError
    from .emulated.codebuild import webhook_events

    if environ.get("REQUEST_METHOD") != "POST":
        return _json(start_response, "405 Method Not Allowed", {"error": "events take POST"})
    try:
        event = json.loads(environ["wsgi.input"].read() or b"{}")
        started = webhook_events.deliver(event)
    except (ValueError, TypeError, KeyError, SandboxError) as exc:
        return _json(start_response, "400 Bad Request", {"error": f"not a repository event: {exc}"})
    return _json(start_response, "200 OK", {"builds": started})


def _refused(start_response: Callable, status: str, code: str, message: str) -> list[bytes]:
    return _json(start_response, status, {"__type": code, "Error": {"Code": code, "Message": message}, "message": message})


def key_id(environ: dict[str, Any]) -> str | None:
    """The access key id a request was signed with, or None for an unsigned request."""
    found = _KEY_ID.search(environ.get("HTTP_AUTHORIZATION", "")) or \
        _QUERY_KEY_ID.search(environ.get("QUERY_STRING", ""))
    return found.group(1) if found else None


def issued_here(access_key: str) -> bool:
    """Whether the emulator issued this access key id (its STS, for an assumed role; its IAM, for a user)."""
    from moto.iam.models import PARTITION_NAMES, iam_backends

    return any(access_key in account[partition].access_keys
               for _id, account in list(iam_backends.items()) for partition in PARTITION_NAMES)


def credential_refusal(environ: dict[str, Any], key: str) -> str | None:
    """Why an AWS call may not run (run under the state lock: the issued keys are moto's state), or None."""
    access_key = key_id(environ)
    if access_key is None:
        return "the sandbox answers signed AWS calls only"
    if hmac.compare_digest(access_key, key) or issued_here(access_key):
        return None
    return "the call was not signed with the sandbox's key, nor with credentials the sandbox issued"


def guarded(app: Callable, key: str, port: int) -> Callable:
    """``app`` behind the sandbox's door: loopback Host, no browser, no moto-api, the key on the sandbox's own routes.

    AWS calls are checked for the key by ``one_at_a_time`` (``credential_refusal``, under the state lock), before
    any kept answer is looked up.
    """
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    def guard(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("HTTP_HOST") not in hosts:
            return _refused(start_response, "403 Forbidden", "SandboxRefused",
                            f"the sandbox answers requests to 127.0.0.1:{port} only, not to Host "
                            f"{environ.get('HTTP_HOST', '')[:SHOWN]!r}")
        if "HTTP_ORIGIN" in environ or any(name.startswith("HTTP_SEC_FETCH_") for name in environ):
            return _refused(start_response, "403 Forbidden", "SandboxRefused",
                            "the sandbox does not answer web pages (the request came from a browser)")
        if path == MOTO_API_PREFIX or path.startswith(MOTO_API_PREFIX + "/"):
            return _refused(start_response, "404 Not Found", "SandboxRefused",
                            "moto's own endpoints are off in the sandbox")
        if path.startswith(OWN_PREFIX) and not hmac.compare_digest(
                environ.get("HTTP_" + KEY_HEADER.upper().replace("-", "_"), ""), key):
            return _refused(start_response, "403 Forbidden", "SandboxRefused",
                            f"the sandbox's own requests carry its key in {KEY_HEADER}")
        return app(environ, _without_cors(start_response))

    return guard


def _without_cors(start_response: Callable) -> Callable:
    def start(status: str, headers: list, exc_info: Any = None) -> Callable:
        return start_response(status, [(n, v) for n, v in headers if not n.lower().startswith(_CORS)], exc_info)
    return start


def health(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    return _json(start_response, "200 OK", {"sandbox": "answering"})


def reset(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    """Empty every account (what moto's reset did; the tests that build their own state use it)."""
    from moto.moto_api._internal.models import moto_api_backend

    if environ.get("REQUEST_METHOD") != "POST":
        return _json(start_response, "405 Method Not Allowed", {"error": "reset takes POST"})
    moto_api_backend.reset()
    return _json(start_response, "200 OK", {"reset": True})


def _call(environ: dict[str, Any], body: bytes) -> str:
    """'service Operation' of an AWS request, from its signature's scope and its target header or Action field."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    target = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
    action = _ACTION.search(body) or _ACTION.search(environ.get("QUERY_STRING", "").encode())
    operation = target or (action.group(1).decode() if action else f"{environ.get('REQUEST_METHOD')} "
                                                                   f"{environ.get('PATH_INFO', '')}")
    return f"{scope.group(1) if scope else '?'} {operation}"


class _Answers:
    """The answers of the last calls, by invocation id, and the calls being answered now."""

    def __init__(self, kept: int = KEPT_ANSWERS):
        self.kept, self.lock = kept, threading.Lock()
        self.answers: OrderedDict[str, tuple[str, list, bytes]] = OrderedDict()
        self.pending: dict[str, threading.Event] = {}

    def earlier(self, call: str) -> tuple[str, list, bytes] | None:
        """The answer an earlier attempt of ``call`` got (waiting for it if it is being answered), else None.

        When None, the caller answers the call itself and must then ``keep`` (or ``forget``) it.
        """
        while True:
            with self.lock:
                if call in self.answers:
                    return self.answers[call]
                waiting = self.pending.get(call)
                if waiting is None:
                    self.pending[call] = threading.Event()
                    return None
            if not waiting.wait(EARLIER_ATTEMPT_WAIT):
                return None

    def keep(self, call: str, answer: tuple[str, list, bytes] | None) -> None:
        with self.lock:
            if answer is not None and len(answer[2]) <= KEPT_ANSWER_BYTES:
                self.answers[call] = answer
                while len(self.answers) > self.kept:
                    self.answers.popitem(last=False)
            done = self.pending.pop(call, None)
        if done is not None:
            done.set()


def one_at_a_time(app: Callable, special: dict[str, Callable] | None = None,
                  lock: threading.Lock | None = None, key: str | None = None) -> Callable:
    """A WSGI app that reads the whole request body, then runs ``app`` alone and collects its answer under a lock.

    ``special``: handlers for paths of the sandbox's own, run under the same lock (a snapshot sees no call half done).
    An attempt of a call already answered (same ``amz-sdk-invocation-id``) gets that answer, and ``app`` is not run.
    ``key``: the sandbox's key; an AWS call signed with neither it nor credentials issued here is refused.
    """
    lock = lock or threading.Lock()
    special = special or {}
    answers = _Answers()

    def run(environ: dict[str, Any]) -> tuple[str, list, bytes]:
        started: list = []

        def start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
            started[:] = [status, list(headers)]
            return lambda data: started.append(bytes(data))

        with lock:
            answer = special.get(environ.get("PATH_INFO"), app)(environ, start_response)
            try:
                body = b"".join(bytes(chunk) for chunk in answer)
            finally:
                if hasattr(answer, "close"):
                    answer.close()
        return started[0], started[1], b"".join(started[2:]) + body

    def serialized(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit():
            if int(length) > MAX_BODY:
                return _too_large(start_response)
            body = environ["wsgi.input"].read(int(length))
        elif environ.get("wsgi.input_terminated"):    # chunked: werkzeug ends the stream at the last chunk
            body = environ["wsgi.input"].read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                return _too_large(start_response)
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ[CALL_KEY] = _call(environ, body)
        path = environ.get("PATH_INFO", "")
        if key is not None and path not in special and not path.startswith(OWN_PREFIX):   # an AWS call
            with lock:   # the keys the emulator issued are moto's state
                refusal = credential_refusal(environ, key)
            if refusal is not None:   # before any kept answer is looked up: those are for the key's holders only
                return _refused(start_response, "403 Forbidden", "InvalidClientTokenId", refusal)
        call = environ.get("HTTP_" + INVOCATION_HEADER.upper().replace("-", "_"), "")
        answer = answers.earlier(call) if call else None
        if answer is not None:
            environ[REPLAYED_KEY] = True
        else:
            try:
                answer = run(environ)
            finally:
                if call:
                    answers.keep(call, answer)
        status, headers, data = answer
        start_response(status, headers)
        return [data]

    return serialized


def _exit(_signum: int, _frame: Any) -> None:
    from .emulated.codebuild import builds

    builds.stop_all()   # a running build's processes end with the emulator
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runbook-sandbox-server")
    parser.add_argument("--directory", required=True, help="the sandbox's folder (its snapshots live there)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    from . import emulated, moto_patches

    moto_patches.apply()
    emulated.install()   # before moto starts: its backend lookup imports moto.<service>
    log_retries_and_drops()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    signal.signal(signal.SIGINT, _exit)
    signal.signal(signal.SIGTERM, _exit)
    from .emulated import runtime

    key = os.environ.get(KEY_ENV, "")
    if not KEY_PATTERN.fullmatch(key):
        print(f"the sandbox's key is missing from {KEY_ENV}: start the sandbox with `runbook sandbox start`",
              file=sys.stderr)
        return 2
    moto_app = DomainDispatcherApplication(create_backend_app)
    handle_snapshot = snapshots(args.directory)
    lock = threading.Lock()   # moto's state: requests and running builds change it one at a time
    runtime.configure(os.path.abspath(args.directory), f"http://127.0.0.1:{args.port}", lock)
    app = one_at_a_time(moto_app, {SNAPSHOT_SAVE_PATH: handle_snapshot, SNAPSHOT_LOAD_PATH: handle_snapshot,
                                   GITHUB_EVENT_PATH: github_events, HEALTH_PATH: health, RESET_PATH: reset},
                        lock, key)
    app = guarded(app, key, args.port)
    run_simple("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
