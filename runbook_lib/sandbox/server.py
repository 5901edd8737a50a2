"""Start, find and stop the sandbox's emulator process.

The emulator runs as its own process (so it outlives a notebook kernel or one
CLI call) on 127.0.0.1 and a free port. Its pid and URL are kept in
``$RUNBOOK_SANDBOX_DIR/sandbox.json`` (default ``~/.cache/eks-cicd-runbooks/sandbox``),
next to its log.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import SandboxError
from .loopback import require_loopback

SANDBOX_DIR_ENV = "RUNBOOK_SANDBOX_DIR"
DEFAULT_DIR = Path.home() / ".cache" / "eks-cicd-runbooks" / "sandbox"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Sandbox:
    pid: int
    port: int
    url: str
    log: str

    def answers(self, timeout: float = 2.0) -> bool:
        """Whether the emulator answers at ``url``, asked directly (never through a proxy)."""
        # urllib goes through HTTP_PROXY and friends unless given a ProxyHandler that names no proxy.
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with direct.open(f"{require_loopback(self.url)}/moto-api/", timeout=timeout) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False


def state_dir(directory: str | Path | None = None) -> Path:
    return Path(directory or os.environ.get(SANDBOX_DIR_ENV) or DEFAULT_DIR)


def _state_file(directory: Path) -> Path:
    return directory / "sandbox.json"


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # our own child, now reaped
    except ChildProcessError:
        pass  # not our child: ask the kernel below
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    """The running sandbox, or None when none answers."""
    file = _state_file(state_dir(directory))
    if not file.is_file():
        return None
    try:
        sandbox = Sandbox(**json.loads(file.read_text()))
    except (ValueError, TypeError):
        return None
    if _alive(sandbox.pid) and sandbox.answers():
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
        if not 1 <= port <= 65535:
            raise SandboxError(f"port {port} is not a TCP port (1-65535).")
        if not _port_free(port):
            raise SandboxError(
                f"port {port} on {HOST} is already in use by another program; choose another with --port, "
                "or leave --port out to take a free one."
            )
    else:
        port = _free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "emulator.log"
    with open(log, "ab") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runbook_lib.sandbox.serve", "--port", str(port)],
            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    url = require_loopback(f"http://{HOST}:{port}")
    sandbox = Sandbox(proc.pid, port, url, str(log))
    deadline = time.monotonic() + timeout
    while not sandbox.answers(timeout=1):
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-8:]
            raise SandboxError(f"the emulator exited during start (exit code {proc.returncode}):\n" + "\n".join(tail))
        if time.monotonic() > deadline:
            proc.terminate()
            raise SandboxError(f"the emulator did not answer on {url} within {int(timeout)} s; see {log}.")
        time.sleep(0.2)
    _state_file(directory).write_text(json.dumps(asdict(sandbox)))
    return sandbox


def stop(directory: str | Path | None = None) -> bool:
    """Stop the sandbox; True if one was running. Its data (and all state) go with it."""
    directory = state_dir(directory)
    file = _state_file(directory)
    if not file.is_file():
        return False
    try:
        sandbox = Sandbox(**json.loads(file.read_text()))
    except (ValueError, TypeError):
        file.unlink()
        return False
    stopped = False
    if _alive(sandbox.pid):
        os.kill(sandbox.pid, signal.SIGTERM)
        for _ in range(50):
            if not _alive(sandbox.pid):
                break
            time.sleep(0.1)
        else:
            os.kill(sandbox.pid, signal.SIGKILL)
        stopped = True
    file.unlink()
    return stopped


def require_running(directory: str | Path | None = None) -> Sandbox:
    sandbox = status(directory)
    if sandbox is None:
        raise SandboxError("the sandbox is not running: start it with `runbook sandbox start`.")
    return sandbox
