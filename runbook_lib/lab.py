"""``runbook lab`` (``make lab``): JupyterLab on the notebooks, in the environment ``make demo`` uses.

Before anything starts it checks what would make the session fail later: JupyterLab
and a widgets frontend that matches the kernel's ipywidgets are installed, the port is
a free TCP port on 127.0.0.1, the notebooks folder and the organization file are there.
Then it sets the mirrors (only those you have not set), starts and seeds the sandbox
(or uses the one already running), marks the project's notebooks trusted and starts
JupyterLab on 127.0.0.1 with a token it prints in the URL. Ctrl-C (or SIGTERM) stops
JupyterLab and its kernels, then the sandbox if this command started it.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .errors import RunbookError
from .project import PROJECT_ROOT_ENV
from .terraform.binary import DEFAULT_PROVIDER_MIRROR, MIRROR_ENV, MODULE_MIRROR_ENV

HOST = "127.0.0.1"
DEFAULT_PORT = 8888
# Terraform module sources offline: bare repositories laid out as on GitHub, beside the project;
# the lab uses a checked copy of them in build/ (see module_mirror.py), as make does.
MODULE_MIRROR_BESIDE_PROJECT = Path("..") / "shared" / "module-mirror"
MODULE_MIRROR_BUILT = Path("build") / "module-mirror"
READY_SECONDS = 120
STOP_SECONDS = 20
INSTALL_HINT = "install them with `make lab`, or `pip install -e '.[lab]'` in this environment"


@dataclass
class LabSession:
    """What ``runbook lab`` started, so Ctrl-C stops exactly that."""

    url: str
    process: subprocess.Popen
    log: Path
    sandbox_started: bool
    environment: dict[str, str] = field(default_factory=dict)


def check_frontend() -> str:
    """Raise unless JupyterLab and the widgets frontend matching the installed ipywidgets are installed."""
    from packaging.requirements import Requirement

    try:
        lab = metadata.version("jupyterlab")
    except metadata.PackageNotFoundError:
        raise RunbookError(f"JupyterLab is not installed in {sys.prefix}: {INSTALL_HINT}. Nothing was started.") from None
    try:
        widgets = metadata.version("ipywidgets")
        wanted = next((Requirement(r) for r in metadata.requires("ipywidgets") or ()
                       if Requirement(r).name == "jupyterlab_widgets" and not Requirement(r).marker), None)
    except metadata.PackageNotFoundError:
        raise RunbookError(f"ipywidgets is not installed in {sys.prefix}: {INSTALL_HINT}. Nothing was started.") from None
    try:
        frontend = metadata.version("jupyterlab_widgets")
    except metadata.PackageNotFoundError:
        raise RunbookError(
            f"the widgets frontend (jupyterlab_widgets) is not installed in {sys.prefix}: without it the notebooks' "
            f"forms and buttons show 'Error displaying widget'; {INSTALL_HINT}. Nothing was started.") from None
    if wanted is not None and frontend not in wanted.specifier:
        raise RunbookError(
            f"the widgets frontend jupyterlab_widgets {frontend} does not match ipywidgets {widgets} (which needs "
            f"jupyterlab_widgets{wanted.specifier}); {INSTALL_HINT}. Nothing was started.")
    return f"JupyterLab {lab}, ipywidgets {widgets} with jupyterlab_widgets {frontend}"


def check_port(port: int) -> None:
    """Raise unless ``port`` is a TCP port nothing listens on at 127.0.0.1."""
    if not 1 <= port <= 65535:
        raise RunbookError(f"--port {port} is not a TCP port (1-65535); nothing was started.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            raise RunbookError(
                f"port {port} on {HOST} is already in use by another program (another JupyterLab?); choose "
                f"another with `runbook lab --port N` (or `make lab LAB_PORT=N`). Nothing was started.") from None


def mirror_environment(root: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The mirror variables to set: each one only when it is unset and its usual folder exists."""
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    if not environ.get(MIRROR_ENV) and DEFAULT_PROVIDER_MIRROR.is_dir():
        found[MIRROR_ENV] = str(DEFAULT_PROVIDER_MIRROR)
    modules = (root / MODULE_MIRROR_BESIDE_PROJECT).resolve()
    if not environ.get(MODULE_MIRROR_ENV) and modules.is_dir():
        found[MODULE_MIRROR_ENV] = str((root / MODULE_MIRROR_BUILT).resolve())
    return found


def trust(notebooks: list[Path]) -> None:
    """Sign the notebooks as trusted (what `jupyter trust` does), so their stored outputs show in full."""
    import nbformat
    from nbformat.sign import NotebookNotary

    notary = NotebookNotary()
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        if not notary.check_signature(nb):
            notary.sign(nb)


def _stop_with_parent() -> None:
    """In the child: on Linux, SIGTERM JupyterLab if ``runbook lab`` dies (kill -9), instead of leaving it running."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG


def _answers(url: str) -> bool:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(process: subprocess.Popen, port: int, token: str, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            raise RunbookError(f"JupyterLab stopped at start (exit code {process.returncode}); the end of {log}:\n"
                               + "\n".join(tail))
        if _answers(f"http://{HOST}:{port}/api/status?token={token}"):
            return
        time.sleep(0.5)
    raise RunbookError(f"JupyterLab did not answer on {HOST}:{port} within {READY_SECONDS} s; see {log}")


def start(root: Path, *, port: int = DEFAULT_PORT, org_file: str = "parameters/org.yaml",
          notebooks: Path | None = None, say: Callable[[str], None] = print) -> LabSession:
    """Check, set up and start everything; return once JupyterLab answers. Nothing is started on bad input."""
    from .parameters import load_org
    from .sandbox import server
    from .sandbox.seed import seed

    what = check_frontend()
    check_port(port)
    folder = (notebooks or root / "notebooks").resolve()
    found = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if not found:
        raise RunbookError(f"no notebooks in {folder}; nothing was started.")
    org = load_org(root / org_file, label=org_file)

    env = mirror_environment(root)
    if MODULE_MIRROR_ENV in env:
        from . import module_mirror

        source = (root / MODULE_MIRROR_BESIDE_PROJECT).resolve()
        missing = module_mirror.build(Path(env[MODULE_MIRROR_ENV]), org, str(source), sink=lambda _line: None)
        if missing:
            raise RunbookError(f"the module mirror built from {source} lacks {len(missing)} pinned commit(s) "
                               f"({', '.join(m.path for m in missing)}); nothing was started.")
    os.environ.update(env)
    for name, value in env.items():
        say(f"{name}={value}")
    for name in (MIRROR_ENV, MODULE_MIRROR_ENV):
        if not os.environ.get(name):
            say(f"{name} is not set and its usual folder is not here: Terraform uses the registry and GitHub.")
    sandbox_started = server.status() is None
    running = server.start()
    report = seed(org, running.url)
    say(f"Sandbox {'started' if sandbox_started else 'already running'} at {running.url}; "
        f"seeded {len(report.created)} new, {len(report.existing)} already there")
    trust(found)
    say(f"Trusted {len(found)} notebooks in {folder}")

    token = secrets.token_urlsafe(24)
    log = root / "build" / "lab" / f"jupyterlab-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, PROJECT_ROOT_ENV: str(root), "JUPYTER_TOKEN": token}   # the token never on a command line
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--ServerApp.root_dir={folder}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")   # containers often run as root; still loopback and a token
    try:
        with open(log, "ab") as handle:
            process = subprocess.Popen(command, env=child_env, stdout=handle, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_stop_with_parent)
        _wait_ready(process, port, token, log)
    except BaseException:
        _stop_process(locals().get("process"))
        if sandbox_started:
            server.stop()
        raise
    url = f"http://{HOST}:{port}/lab?token={token}"
    say(f"{what}; log: {log}")
    return LabSession(url, process, log, sandbox_started, env)


def _stop_process(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    import psutil

    from .stopping import end

    try:
        kernels = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        kernels = []
    process.terminate()   # JupyterLab shuts its kernels down on SIGTERM
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    # What JupyterLab could not shut down in time (a kernel busy in Terraform) is ended here:
    # its kernels get SIGINT first, so a running Terraform releases its state lock.
    end(kernels, first=signal.SIGINT, grace=STOP_SECONDS)


def stop(session: LabSession, say: Callable[[str], None] = print) -> None:
    """Stop JupyterLab and its kernels, then the sandbox if ``start`` started it."""
    from .sandbox import server

    _stop_process(session.process)
    say("JupyterLab stopped")
    if session.sandbox_started:
        server.stop()
        say("Sandbox stopped")
    else:
        say("The sandbox was already running before; it is left running (`runbook sandbox stop` stops it).")


def run(root: Path, *, port: int = DEFAULT_PORT, org_file: str = "parameters/org.yaml",
        notebooks: Path | None = None, say: Callable[[str], None] = print) -> int:
    """Start, print the URL, and wait for Ctrl-C (or SIGTERM, or JupyterLab ending by itself)."""
    session = start(root, port=port, org_file=org_file, notebooks=notebooks, say=say)
    code = 0
    try:   # from here on, Ctrl-C at any moment stops what was started
        say("")
        say(f"JupyterLab: {session.url}")
        say("Open it in your browser and start with 00-prerequisites-and-preflight.ipynb. Ctrl-C stops JupyterLab "
            + ("and the sandbox." if session.sandbox_started else "(the sandbox was already running and stays)."))
        code = session.process.wait()
        say(f"JupyterLab ended by itself (exit code {code})")
    except KeyboardInterrupt:
        say("")
    finally:
        stop(session, say)
    return 0 if code in (0, -signal.SIGTERM) else 1
