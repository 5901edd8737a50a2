"""Benchmarks of the notebook suite, measured side by side in one run, against the sandbox.

1. One application, whole suite (00-04) through papermill vs. the same library
   calls in this plain Python process. Each on a fresh sandbox. Target: the
   notebooks add no more than 25%.
2. ``runbook run`` over N generated example applications with 1 and then 2 jobs
   (fresh sandbox each), wall time and speed-up (target: >= 1.8x on 2 cores, no
   failed runs), and peak memory of the largest process.
3. The number of AWS API calls of one full postflight (counted with botocore events).

Run:  .venv/bin/python benchmarks/bench_suite.py [--apps N] [--skip-batch | --only-batch]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runbook_lib.sandbox import server  # noqa: E402


def _fresh_sandbox(work: Path, name: str) -> Path:
    directory = work / name
    os.environ[server.SANDBOX_DIR_ENV] = str(directory)
    server.start(directory=directory)
    return directory


def suite_papermill(work: Path) -> float:
    directory = _fresh_sandbox(work, "sbx-papermill")
    params = work / "params.yaml"
    params.write_text(f"out_dir: {work / 'out-papermill'}\ntarget: sandbox\n")
    started = time.monotonic()
    for nb in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        subprocess.run([sys.executable, "-m", "papermill", str(nb), str(work / nb.name), "-f", str(params),
                        "--cwd", str(ROOT)], check=True, capture_output=True)
    took = time.monotonic() - started
    server.stop(directory)
    return took


def suite_plain(work: Path) -> tuple[float, int]:
    """The same steps as the notebooks, as library calls in this process; also counts postflight API calls."""
    directory = _fresh_sandbox(work, "sbx-plain")
    from runbook_lib import notebook as rb

    os.environ["RUNBOOK_PROJECT_ROOT"] = str(ROOT)
    out = str(work / "out-plain")
    started = time.monotonic()
    s = rb.start("parameters/org.yaml", target="sandbox", out_dir=out)
    rb.sandbox_up(s)
    rb.preflight(s)
    rb.render(s)
    rb.validate(s)
    rb.plan_and_apply(s, "cicd-common")
    rb.postflight(s, ("common",))
    s = rb.start("parameters/org.yaml", "parameters/apps/web.yaml", target="sandbox", out_dir=out)
    for root in ("ci", "cd"):
        rb.sandbox_up(s)
        rb.render(s)
        rb.validate(s)
        rb.plan_and_apply(s, root)
        rb.postflight(s, (root,))
    rb.postflight(s)
    rb.pipeline_status(s)
    took = time.monotonic() - started
    calls = count_postflight_calls(s)
    server.stop(directory)
    return took, calls


def count_postflight_calls(session) -> int:
    from runbook_lib import checks

    clients = checks.clients_for(session.org, "sandbox")
    seen: list[str] = []
    original = clients.client

    def counting(service, account_id, region=None):
        client = original(service, account_id, region)
        client.meta.events.register("before-call", lambda model, **_: seen.append(model.name))
        return client

    clients.client = counting
    checks.run_checks(session.org, session.app, clients, "postflight")
    return len(seen)


def batch(work: Path, apps: int, jobs: int) -> tuple[float, bool]:
    directory = work / f"sbx-batch-{jobs}"
    apps_dir = work / "apps"
    env = dict(os.environ, RUNBOOK_SANDBOX_DIR=str(directory))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "run", "--apps", str(apps_dir), "--jobs", str(jobs),
                           "--out", str(work / f"runs-{jobs}")], cwd=ROOT, env=env, capture_output=True, text=True)
    return time.monotonic() - started, proc.returncode == 0


def make_apps(work: Path, count: int) -> None:
    apps_dir = work / "apps"
    apps_dir.mkdir()
    template = (ROOT / "parameters/apps/web.yaml").read_text()
    for i in range(count):
        text = (template.replace("name: web", f"name: web{i:02d}").replace("acme-co/web", f"acme-co/web{i:02d}")
                .replace("acme/web", f"acme/web{i:02d}"))
        (apps_dir / f"web{i:02d}.yaml").write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--only-batch", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("RUNBOOK_TF_PROVIDER_MIRROR", "/opt/tf-plugins")
    work = Path(tempfile.mkdtemp(prefix="runbook-bench-suite-"))
    if not args.only_batch:
        papermill_s = suite_papermill(work)
        plain_s, calls = suite_plain(work)
        print(f"one app, whole suite: papermill {papermill_s:.1f} s, plain Python {plain_s:.1f} s, "
              f"overhead {100 * (papermill_s / plain_s - 1):+.0f}%")
        print(f"AWS API calls of one full postflight (web): {calls}")
    if not args.skip_batch:
        make_apps(work, args.apps)
        one, ok1 = batch(work, args.apps, 1)
        two, ok2 = batch(work, args.apps, 2)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"batch of {args.apps} apps: 1 job {one:.0f} s (ok={ok1}), 2 jobs {two:.0f} s (ok={ok2}), "
              f"speed-up {one / two:.2f}x; peak RSS of one process {peak:.0f} MB")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
