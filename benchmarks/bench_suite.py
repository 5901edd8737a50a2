"""Benchmarks of the notebook suite, measured side by side in one run, against the sandbox.

1. One application, whole suite (00-04) through papermill vs. the same library
   calls in this plain Python process. Each on a fresh sandbox. Target: the
   notebooks add no more than 25%.
2. ``runbook run`` over N generated example applications with 1 and then 2 jobs
   (fresh sandbox each): wall time, speed-up (target: >= 1.8x on 2 cores, no
   failed runs), CPU time of the whole run (to show how many cores one job
   keeps busy), and peak memory per job: the largest sum of PSS over one job's
   processes (batch worker, kernel, Terraform, providers), sampled every 0.5 s,
   for the common job and for any one application job.
3. The number of AWS API calls of one full postflight (counted with botocore events).

   The settings run in the order given by ``--settings`` (default ``local-1,local-2``);
   ``dask-2`` starts a Dask ``LocalCluster`` here (scheduler and 2 worker processes over
   TCP) and runs ``runbook run --executor dask`` on it; ``local@before-2`` runs the
   checkout given with ``--before`` (its code through ``PYTHONPATH``, this virtualenv).

Run:  .venv/bin/python benchmarks/bench_suite.py [--apps N] [--skip-batch | --only-batch]
                                                 [--settings local-1,local-2,dask-2] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

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


def _pss(proc: psutil.Process) -> int:
    try:
        return proc.memory_full_info().pss
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0


def _in_common_root(proc: psutil.Process) -> bool:
    try:
        return "/work/common" in proc.cwd() or any("/work/common" in a for a in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


class JobMemory:
    """Samples the process tree of a ``runbook run``: the peak PSS of one job.

    A job at any moment is one notebook kernel, the process that runs papermill
    for it (the ``runbook`` process itself with 1 job, a pool worker with more)
    and what the kernel started (Terraform, providers). A job working in the
    common root (its Terraform runs under ``work/common``) counts as the common
    job, any other as an application job. The sandbox server runs in its own
    session and is not counted.
    """

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.peak = {"common": 0, "app": 0}
        self.peak_run = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _trees(self) -> list[list[psutil.Process]]:
        """One list per running job: the process running papermill, its kernel and everything the kernel started."""
        trees = []
        for proc in self.root.children(recursive=True):
            try:
                if any("ipykernel_launcher" in part for part in proc.cmdline()):
                    trees.append([proc.parent(), proc, *proc.children(recursive=True)])
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return trees

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                trees = self._trees()
            except psutil.NoSuchProcess:
                continue
            total = 0
            for tree in trees:
                pss = sum(_pss(p) for p in tree)
                label = "common" if any(_in_common_root(p) for p in tree[2:]) else "app"
                self.peak[label] = max(self.peak[label], pss)
                total += pss
            self.peak_run = max(self.peak_run, total)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def batch(work: Path, apps: int, jobs: int, *, executor: str = "local", code: Path = ROOT, label: str = "") -> dict:
    """``runbook run`` over the generated apps from checkout ``code`` on a fresh sandbox.

    ``executor`` ``local``: the process pool with ``jobs``; ``dask``: a ``LocalCluster`` started
    here (a scheduler and ``jobs`` worker processes, one thread each, over TCP on loopback).
    """
    label = label or f"{executor}-{jobs}"
    directory = work / f"sbx-batch-{label}"
    apps_dir = work / "apps"
    env = dict(os.environ, RUNBOOK_SANDBOX_DIR=str(directory), PYTHONPATH=str(code), RUNBOOK_PROJECT_ROOT=str(code))
    args = ["--jobs", str(jobs)]
    cluster = None
    if executor == "dask":
        from distributed import LocalCluster

        subprocess.run([sys.executable, "-m", "runbook_lib.cli", "sandbox", "start"], env=env, check=True,
                       capture_output=True)
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                               protocol="tcp", dashboard_address=None, env={k: env[k] for k in (
                                   "PYTHONPATH", "RUNBOOK_PROJECT_ROOT", "RUNBOOK_SANDBOX_DIR")})
        args = ["--executor", "dask", "--scheduler", cluster.scheduler_address, "--jobs", str(jobs)]
    cpu_before = os.times()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "runbook_lib.cli", "run", "--apps", str(apps_dir), *args,
                             "--out", str(work / f"runs-{label}")], cwd=code, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    memory = JobMemory(os.getpid() if cluster else proc.pid)   # Dask's workers are this process's children
    output, _ = proc.communicate()
    wall = time.monotonic() - started
    memory.stop()
    cpu_after = os.times()
    cpu = (cpu_after.children_user - cpu_before.children_user) + (cpu_after.children_system - cpu_before.children_system)
    if cluster:
        workers = [psutil.Process(pid) for pid in _worker_pids(cluster)]
        cpu += sum(sum(w.cpu_times()[:4]) for w in workers)   # kernels they ran are theirs to reap, not ours
        cluster.close()
        subprocess.run([sys.executable, "-m", "runbook_lib.cli", "sandbox", "stop"], env=env, capture_output=True)
    (work / f"batch-{label}.log").write_text(output)
    return {"wall": wall, "ok": proc.returncode == 0, "cpu": cpu, "peak_common_mb": memory.peak["common"] / 2**20,
            "peak_app_mb": memory.peak["app"] / 2**20,
            "peak_run_mb": memory.peak_run / 2**20}


def _worker_pids(cluster) -> list[int]:
    """The worker processes of a LocalCluster (each under its nanny)."""
    nannies = [psutil.Process(n.process.process.pid) for n in cluster.workers.values()]
    return [n.pid for n in nannies]


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
    parser.add_argument("--settings", default="local-1,local-2",
                        help="batch settings in order, EXECUTOR-JOBS: local-1, local-2, dask-2; "
                             "local@before-2 runs --before's checkout")
    parser.add_argument("--before", type=Path, help="another checkout of the project (for local@before-N)")
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
        runs = {}
        for setting in args.settings.split(","):
            executor, jobs = setting.rsplit("-", 1)
            code, label = ROOT, setting
            if executor.endswith("@before"):
                code, executor, label = args.before.resolve(), executor.split("@")[0], setting
            runs[label] = batch(work, args.apps, int(jobs), executor=executor, code=code, label=label)
            r = runs[label]
            print(f"batch of {args.apps} apps, {label}: {r['wall']:.0f} s wall (ok={r['ok']}), "
                  f"{r['cpu']:.0f} CPU-s ({r['cpu'] / r['wall']:.2f} cores busy on average), "
                  f"peak PSS: common job {r['peak_common_mb']:.0f} MB, one app job {r['peak_app_mb']:.0f} MB, "
                  f"all running jobs together {r['peak_run_mb']:.0f} MB (load {os.getloadavg()[0]:.2f})", flush=True)
        if "local-1" in runs and "local-2" in runs:
            print(f"speed-up with 2 jobs: {runs['local-1']['wall'] / runs['local-2']['wall']:.2f}x")
        if "dask-2" in runs and "local-2" in runs:
            print(f"Dask LocalCluster (2 workers) / process pool (2 jobs), wall: "
                  f"{runs['dask-2']['wall'] / runs['local-2']['wall']:.2f}x")
        if not all(r["ok"] for r in runs.values()):
            print(f"a batch run failed: see {work}/batch-*.log (kept)")
            return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
