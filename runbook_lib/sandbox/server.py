"""Start, find and stop the sandbox's emulator process.

The emulator runs as its own process (so it outlives a notebook kernel or one
CLI call) on 127.0.0.1 and a free port. Its pid and URL are kept in
``$RUNBOOK_SANDBOX_DIR/sandbox.json`` (default ``~/.cache/eks-cicd-runbooks/sandbox``),
next to its log, with the sandbox's key (``keys.py``): the folder and the file are
readable by their owner only. That file is checked before it is used: its URL must be
the loopback address and port it records, and a pid is only signalled when that
process is our server module on that port for that folder, run by this user, and
answers to that key.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import psutil

from ..errors import SandboxError
from . import keys
from .clients import server_env
from .loopback import require_loopback

SANDBOX_DIR_ENV = "RUNBOOK_SANDBOX_DIR"
DEFAULT_DIR = Path.home() / ".cache" / "eks-cicd-runbooks" / "sandbox"
HOST = "127.0.0.1"
SERVER_MODULE = "runbook_lib.sandbox.serve"
STOP_SECONDS = 5


@dataclass(frozen=True)
class Sandbox:
    pid: int
    port: int
    url: str
    log: str
    key: str = field(repr=False)   # never shown

    def answers(self, timeout: float = 2.0) -> bool:
        """Whether the emulator at ``url`` answers to this sandbox's key, asked directly (never through a proxy)."""
        from .serve import HEALTH_PATH

        # urllib goes through HTTP_PROXY and friends unless given a ProxyHandler that names no proxy.
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{require_loopback(self.url)}{HEALTH_PATH}", headers={keys.KEY_HEADER: self.key})
        try:
            with direct.open(request, timeout=timeout) as resp:
                resp.read()   # closing with the answer unread resets the connection while the server still writes
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False


def state_dir(directory: str | Path | None = None) -> Path:
    return Path(directory or os.environ.get(SANDBOX_DIR_ENV) or DEFAULT_DIR).absolute()


def _state_file(directory: Path) -> Path:
    return directory / "sandbox.json"


def _is_tcp_port(port: int) -> bool:
    return 1 <= port <= 65535


def _url(port: int) -> str:
    return f"http://{HOST}:{port}"


def _command(port: int, directory: Path) -> list[str]:
    return [sys.executable, "-m", SERVER_MODULE, "--directory", str(directory), "--port", str(port)]


def _bad_state(file: Path, problem: str) -> SandboxError:
    return SandboxError(f"{file}: {problem}. This is not what `runbook sandbox start` writes: nothing was stopped "
                        "or contacted; delete the file and start the sandbox again.")


def _recorded(file: Path) -> Sandbox | None:
    """The sandbox the state file describes, or None without a file; a file we did not write is an error."""
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise _bad_state(file, f"not readable as JSON ({exc})") from None
    names = [f.name for f in fields(Sandbox)]
    if not isinstance(data, dict) or sorted(data) != sorted(names):
        raise _bad_state(file, f"must be a JSON object with the keys {', '.join(names)}")
    for name, kind in (("pid", int), ("port", int), ("url", str), ("log", str), ("key", str)):
        if type(data[name]) is not kind:
            raise _bad_state(file, f"{name} = {data[name]!r} must be {'an integer' if kind is int else 'a string'}")
    if data["pid"] < 1:
        raise _bad_state(file, f"pid = {data['pid']!r} must be a process id (1 or more)")
    if not _is_tcp_port(data["port"]):
        raise _bad_state(file, f"port = {data['port']!r} is not a TCP port (1-65535)")
    if data["url"] != _url(data["port"]):
        raise _bad_state(file, f"url = {data['url']!r} must be {_url(data['port'])!r} (the sandbox only talks to "
                               "loopback, on the port the file records)")
    if not keys.KEY_PATTERN.fullmatch(data["key"]):
        raise _bad_state(file, "key is not a sandbox key (not shown)")
    return Sandbox(**data)


def _live_process(pid: int) -> psutil.Process | None:
    """The running process with this pid, or None when there is none (or only a zombie)."""
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except psutil.Error:
        return None


def _serves(process: psutil.Process, port: int, directory: Path) -> bool:
    """Whether ``process`` is our server module on ``port`` for the sandbox in ``directory``, run by this user."""
    try:
        return (process.cmdline()[1:] == _command(port, directory)[1:]
                and process.username() == psutil.Process().username())
    except psutil.Error:
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def status(directory: str | Path | None = None) -> Sandbox | None:
    """The running sandbox, or None when none answers (a stale file describes none)."""
    directory = state_dir(directory)
    sandbox = _recorded(_state_file(directory))
    if sandbox is None:
        return None
    process = _live_process(sandbox.pid)
    if process and _serves(process, sandbox.port, directory) and sandbox.answers():
        keys.remember(sandbox.url, sandbox.key)
        return sandbox
    return None


def start(port: int | None = None, directory: str | Path | None = None, timeout: float = 60) -> Sandbox:
    """Start the emulator (or return the one already running); returns once it answers."""
    directory = state_dir(directory)
    running = status(directory)
    if running:
        if port and port != running.port:
            raise SandboxError(f"a sandbox is already running at {running.url}; stop it first to use port {port}.")
        return running
    if port is not None:
        if not _is_tcp_port(port):
            raise SandboxError(f"port {port} is not a TCP port (1-65535).")
        if not _port_free(port):
            raise SandboxError(
                f"port {port} on {HOST} is already in use by another program; choose another with --port, "
                "or leave --port out to take a free one."
            )
    else:
        port = _free_port()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)   # the state, the snapshots and sandbox.json (with the key) are the owner's only
    except OSError as exc:
        raise SandboxError(f"the sandbox's folder {directory} cannot be made or used ({exc.strerror or exc}); "
                           f"set {SANDBOX_DIR_ENV} to a folder you can write (the default is under HOME)") from None
    log = directory / "emulator.log"
    key = keys.new_key()
    with open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as handle:
        proc = subprocess.Popen(
            _command(port, directory), env={**server_env(), keys.KEY_ENV: key, "MOTO_DISABLE_GLOBAL_CORS": "true"},
            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    url = require_loopback(_url(port))
    sandbox = Sandbox(proc.pid, port, url, str(log), key)
    deadline = time.monotonic() + timeout
    while not sandbox.answers(timeout=1):
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-8:]
            raise SandboxError(f"the emulator exited during start (exit code {proc.returncode}):\n" + "\n".join(tail))
        if time.monotonic() > deadline:
            proc.terminate()
            raise SandboxError(f"the emulator did not answer on {url} within {int(timeout)} s; see {log}.")
        time.sleep(0.2)
    file = _state_file(directory)
    partial = file.with_name(file.name + ".partial")
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(json.dumps(asdict(sandbox)))
    partial.replace(file)  # a reader sees the whole file or none
    keys.remember(sandbox.url, sandbox.key)
    return sandbox


def stop(directory: str | Path | None = None) -> bool:
    """Stop the sandbox; True if one was running. Its data (and all state) go with it.

    A file naming a process that is gone is removed quietly; one naming a process
    that is not the sandbox server is removed too, with an error, and nothing is signalled.
    """
    directory = state_dir(directory)
    file = _state_file(directory)
    sandbox = _recorded(file)
    if sandbox is None:
        return False
    process = _live_process(sandbox.pid)
    if process is None:
        file.unlink()
        return False
    if not _serves(process, sandbox.port, directory):
        file.unlink()
        raise SandboxError(f"{file} was stale: pid {sandbox.pid} is not the sandbox server on port {sandbox.port} "
                           f"for {directory}, so nothing was stopped; the file is removed.")
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(STOP_SECONDS)
    file.unlink()
    return True


def require_running(directory: str | Path | None = None) -> Sandbox:
    sandbox = status(directory)
    if sandbox is None:
        raise SandboxError("the sandbox is not running: start it with `runbook sandbox start`.")
    return sandbox


def post_json(base: str, path: str, body: dict, timeout: float, refused: str, unanswered: str) -> dict:
    """POST ``body`` to one of the sandbox's own routes, never through a proxy; returns its JSON answer.

    A refusal raises SandboxError(``refused`` with ``{problem}`` filled from the answer's "error");
    no answer raises SandboxError(``unanswered`` and the reason).
    """
    request = urllib.request.Request(require_loopback(base) + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", keys.KEY_HEADER: keys.key_for(base)})
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never through a proxy
    try:
        with direct.open(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            problem = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            problem = exc.reason
        raise SandboxError(refused.format(problem=problem)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SandboxError(f"{unanswered} ({exc}).") from None


def _snapshot_request(path: str, name: str, directory: str | Path | None) -> dict:
    from .serve import SNAPSHOT_NAME

    if not SNAPSHOT_NAME.fullmatch(name):
        raise SandboxError(f"snapshot name {name!r} is not allowed: lowercase letters, digits and '-', at most 63.")
    url = require_running(directory).url
    return post_json(url, path, {"name": name}, 600, f"the sandbox at {url} refused the snapshot {name!r}: {{problem}}",
                     f"the sandbox at {url} did not answer the snapshot request")


def save_snapshot(name: str, directory: str | Path | None = None) -> Path:
    """Save the running sandbox's whole state as ``name`` in its folder; returns the file."""
    from .serve import SNAPSHOT_SAVE_PATH

    return Path(_snapshot_request(SNAPSHOT_SAVE_PATH, name, directory)["saved"])


def load_snapshot(name: str, directory: str | Path | None = None) -> None:
    """Replace the running sandbox's whole state with the snapshot ``name`` from its folder."""
    from .serve import SNAPSHOT_LOAD_PATH

    _snapshot_request(SNAPSHOT_LOAD_PATH, name, directory)


def snapshot_file(name: str, directory: str | Path | None = None) -> Path:
    """Where the snapshot ``name`` of the sandbox in ``directory`` lives (to copy it to another sandbox)."""
    from .snapshot import SUFFIX

    return state_dir(directory) / "snapshots" / f"{name}{SUFFIX}"
