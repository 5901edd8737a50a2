"""Shared fixtures: the example parameters, and a Terraform CLI configured for this machine."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
from pathlib import Path

import pytest

from runbook_lib.parameters import load_app, load_org

from .tiers import missing, starts

ROOT = Path(__file__).resolve().parent.parent
PARAMS = ROOT / "parameters"
ORG_FILE = PARAMS / "org.yaml"
APP_FILES = sorted((PARAMS / "apps").glob("*.yaml"))
# Machines without internet carry an unpacked provider mirror; use it when present.
DEFAULT_MIRROR = Path("/opt/tf-plugins")

# And bare copies of the upstream module repositories beside the checkout (as the Makefile finds them).
DEFAULT_MODULE_MIRROR = ROOT.parent / "shared" / "module-mirror"

if "RUNBOOK_TF_PROVIDER_MIRROR" not in os.environ and DEFAULT_MIRROR.is_dir():
    os.environ["RUNBOOK_TF_PROVIDER_MIRROR"] = str(DEFAULT_MIRROR)
if "RUNBOOK_TF_MODULE_MIRROR" not in os.environ and DEFAULT_MODULE_MIRROR.is_dir():
    # a checked copy, as `make modules` builds it (a copied bare repository can lack its refs/ folder)
    from runbook_lib import module_mirror

    built = ROOT / "build" / "module-mirror"
    module_mirror.build(built, load_org(ORG_FILE), str(DEFAULT_MODULE_MIRROR), sink=lambda _line: None)
    os.environ["RUNBOOK_TF_MODULE_MIRROR"] = str(built)


@pytest.fixture(scope="session")
def org():
    return load_org(ORG_FILE)


@pytest.fixture(scope="session")
def apps(org):
    return {path.stem: load_app(path, org, ORG_FILE) for path in APP_FILES}


CHROMIUM = os.environ.get("RUNBOOK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
@starts("a browser")
def chromium_path():
    """Debian's Chromium, for Playwright (which cannot download its own browsers here)."""
    if not CHROMIUM:
        missing("Chromium is not installed (apt-get install -y chromium, or set RUNBOOK_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("Playwright is not installed (pip install -e '.[dev]')")
    return CHROMIUM


def needs_terraform():
    """The ``terraform`` marker: the test runs the Terraform CLI (so it is slow, and skipped, or failed under CI, without it)."""
    return pytest.mark.terraform


@pytest.fixture(autouse=True)
def _terraform_on_path(request):
    if request.node.get_closest_marker("terraform") and shutil.which("terraform") is None:
        missing("the Terraform CLI is not on PATH")


@pytest.fixture(scope="session")
@starts("the sandbox")
def suite_sandbox(tmp_path_factory):
    """The one sandbox the notebook suite runs in, and everything that builds on what it applied.

    ``make test`` gives pytest the notebooks first: nbval runs 00-04 for web from a fresh
    sandbox in $RUNBOOK_SANDBOX_DIR. The batch run, the papermill CLI pass, the kernel
    tests and the lifecycle then go on in that same sandbox, so each root is created
    once and later passes find it applied. Run alone, a fresh sandbox starts here.
    """
    from runbook_lib.sandbox import server

    directory = Path(os.environ.get(server.SANDBOX_DIR_ENV) or tmp_path_factory.mktemp("suite-sandbox"))
    os.environ[server.SANDBOX_DIR_ENV] = str(directory)
    started_here = server.status(directory) is None
    running = server.start(directory=directory)
    yield running
    if started_here:
        server.stop(directory)


@pytest.fixture(scope="session")
def suite_aws(suite_sandbox, org):
    from runbook_lib.sandbox.clients import SandboxSessions

    return SandboxSessions(suite_sandbox.url, org.region, org.terraform_role_name)


OPS_ACCOUNT = "111111111111"


class _Watched(io.StringIO):
    """The CLI's console output, watched: when ``trigger`` is printed, ``action`` runs once (in the printing thread)."""

    def __init__(self, trigger: str, action):
        super().__init__()
        self.trigger, self.action, self.fired = trigger, action, False

    def write(self, text: str) -> int:
        if not self.fired and self.trigger in text:
            self.fired = True
            self.action()
        return super().write(text)


@pytest.fixture(scope="session")
@starts("Terraform, kernels and the sandbox (a batch run)")
def batch_run(suite_sandbox, suite_aws, tmp_path_factory):
    """``runbook run --jobs 2`` over both examples, in the suite's sandbox.

    Between worker's 03 and 04 notebooks its base-image repository is deleted with boto3,
    as a colleague might: 04's postflight must FAIL, and the run must say so everywhere.
    """
    from rich.console import Console

    from runbook_lib import cli

    out = tmp_path_factory.mktemp("batch") / "runs"
    deleted = []

    def break_worker():
        suite_aws.client("ecr", OPS_ACCOUNT).delete_repository(repositoryName="acme/worker-base")
        deleted.append("acme/worker-base")

    watched = _Watched("[worker] 03-continuous-deployment: ok", break_worker)
    saved = cli.console
    cli.console = Console(file=watched, width=200, highlight=False, markup=False, soft_wrap=True)
    try:
        code = cli.main(["run", "--org", "parameters/org.yaml", "--apps", "parameters/apps", "--jobs", "2",
                         "--out", str(out)])
    finally:
        cli.console = saved
    [run_dir] = list(out.iterdir())
    return code, watched.getvalue().splitlines(), run_dir, deleted


# -- the applied sandbox, built once per run and restored wherever a test needs one -------------------
# After the common root; after all but worker's CD root; after both example apps and the handshake.
GOLDEN_SNAPSHOTS = ("common", "before-cd-worker", "applied")


@contextlib.contextmanager
def _sandbox_dir_env(directory: Path):
    from runbook_lib.sandbox import server

    saved = os.environ.get(server.SANDBOX_DIR_ENV)
    os.environ[server.SANDBOX_DIR_ENV] = str(directory)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(server.SANDBOX_DIR_ENV, None)
        else:
            os.environ[server.SANDBOX_DIR_ENV] = saved


def _build_golden(folder: Path, org, apps) -> None:
    """Apply the roots from nothing, saving GOLDEN_SNAPSHOTS on the way (the handshake is completed last)."""
    from runbook_lib.engine import Engine, Settings
    from runbook_lib.results import DONE
    from runbook_lib.sandbox import server

    directory, out = folder / "sandbox", folder / "out"
    server.start(directory=directory)
    try:
        with _sandbox_dir_env(directory):
            def engine(app=None):
                return Engine(Settings(org, app, target="sandbox", out=out, auto_approve=True), sink=lambda _l: None)

            shared = engine()
            shared.prepare()
            common = shared.run_root("cicd-common")
            assert common.outcome in DONE, common.reason
            server.save_snapshot("common", directory)
            # each app's own roots, one by one: the common root, just applied, is not planned again
            # (its four provider configurations make that plan the costliest of all)
            for app in ("web", "worker"):
                roots = engine(apps[app])
                roots.prepare()
                for root in ("ci", "cd"):
                    if (app, root) == ("worker", "cd"):
                        server.save_snapshot("before-cd-worker", directory)
                    result = roots.run_root(root)
                    assert result.outcome in DONE, (app, root, result.reason)
            engine(apps["web"]).complete_handshake()
            server.save_snapshot("applied", directory)
    finally:
        server.stop(directory)


@pytest.fixture(scope="session")
@starts("Terraform and the sandbox (the applied snapshots, built once per run)")
def golden(tmp_path_factory, org, apps, worker_id) -> Path:
    """The folder of the snapshots in GOLDEN_SNAPSHOTS: the example apps applied from nothing, once per run.

    Under xdist, the first worker that needs them builds them while the others wait on a lock.
    """
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if worker_id != "master" else base) / "golden"
    shared.mkdir(exist_ok=True)
    snapshots = shared / "sandbox" / "snapshots"
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "built").exists():
            _build_golden(shared, org, apps)
            (shared / "built").write_text("ok")
    return snapshots


def restore_golden(golden: Path, name: str, directory: Path):
    """Start a sandbox in ``directory`` holding the golden snapshot ``name`` (the emulator's whole state)."""
    from runbook_lib.sandbox import server

    running = server.start(directory=directory)
    target = server.snapshot_file(name, directory)
    target.parent.mkdir(mode=0o700, exist_ok=True)
    shutil.copy(golden / target.name, target)
    server.load_snapshot(name, directory)
    return running


@pytest.fixture(scope="session")
@starts("Terraform, kernels and the sandbox (a batch run on the applied snapshot)")
def web_run_on_applied(golden, tmp_path_factory):
    """``run_batch`` with the local process pool over web, in a sandbox of its own holding the "applied" snapshot.

    Its plans find nothing to change. The browser's report test looks at its report, and the Dask
    test compares a Dask run with it; both are in the "browser" xdist group, so it runs once.
    Returns (run folder, progress lines).
    """
    from runbook_lib.batch import run_batch
    from runbook_lib.sandbox import server

    folder = tmp_path_factory.mktemp("web-run-on-applied")
    directory = folder / "sandbox"
    lines: list[str] = []
    with _sandbox_dir_env(directory):
        restore_golden(golden, "applied", directory)
        try:
            run_dir, results, interrupted = run_batch("parameters/org.yaml", ["parameters/apps/web.yaml"],
                                                      executor="local", jobs=2, out=str(folder / "runs"),
                                                      progress=lines.append)
        finally:
            server.stop(directory)
    assert not interrupted and all(r.healthy for r in results), [(r.label, r.problems()) for r in results]
    return run_dir, lines
