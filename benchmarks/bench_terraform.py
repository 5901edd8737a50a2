"""Benchmarks of the Terraform side, against the embedded sandbox.

1. ``runbook apply`` for one application (common + CI + CD) from nothing:
   wall time, CPU time, and peak memory (largest single process: the runbook
   itself, Terraform, or an AWS provider plugin).
2. ``terraform init`` of N root modules with and without the shared plugin cache:
   wall time and disk used under the roots' ``.terraform`` folders.
3. ``terraform plan`` of a new CI root under several GOGC values: wall time, CPU
   and peak memory; the measurement behind the runbook's default of GOGC=400.

Run:  .venv/bin/python benchmarks/bench_terraform.py [--app parameters/apps/web.yaml]
Prints a table; numbers go into benchmarks/README.md by hand.
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

from runbook_lib.parameters import load_app, load_org  # noqa: E402
from runbook_lib.render import render_files, render_roots, write_files  # noqa: E402
from runbook_lib.targets import make_target
from runbook_lib.sandbox import server  # noqa: E402
from runbook_lib.terraform.runner import Terraform  # noqa: E402


def _du(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def bench_apply(app_file: str, work: Path, env: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "runbook_lib.cli", "apply", "--org", str(ROOT / "parameters/org.yaml"),
         "--app", app_file, "--target", "sandbox", "--out", str(work / "apply"), "--auto-approve"],
        env=env, capture_output=True, text=True,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"runbook apply failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss_mb": after.ru_maxrss / 1024,
    }


def bench_init(org, apps, work: Path, cache: bool, env_extra: dict) -> dict:
    out = work / ("init-cache" if cache else "init-nocache")
    target = make_target("sandbox")
    roots = []
    for app in apps:
        write_files(out, render_files(org, app, target))
        roots += [r for r in render_roots(org, app, target) if r not in roots]
    names = sorted({r.path for r in roots})
    if cache:
        os.environ["RUNBOOK_TF_PLUGIN_CACHE"] = str(work / "plugin-cache")
    started = time.monotonic()
    for path in names:
        Terraform(out / path, env=env_extra, plugin_cache=cache, sink=lambda _: None).init()
    wall = time.monotonic() - started
    disk = sum(_du(out / path / ".terraform") for path in names)
    return {"roots": len(names), "wall_s": wall, "disk_mb": disk / 1e6}


def bench_gogc(org, app, work: Path, values: tuple[str, ...] = ("100", "200", "400", "800"), rounds: int = 2) -> list[dict]:
    """``terraform plan`` of a CI root with only creates, under several GOGC values.

    Wall time, CPU and peak RSS come from ``wait4`` on Terraform, which covers the
    provider processes it started and waited for.
    """
    out = work / "gogc"
    target = make_target("sandbox")
    write_files(out, render_files(org, app, target))
    root = next(r for r in render_roots(org, app, target) if r.name.startswith("ci/"))
    tf = Terraform(out / root.path, env=target.terraform_env(), sink=lambda _: None)
    tf.init()
    rows = []
    for _ in range(rounds):
        for value in values:
            started = time.monotonic()
            proc = subprocess.Popen([tf.binary, f"-chdir={tf.workdir}", "plan", "-input=false", "-out=bench.tfplan"],
                                    env={**tf.env, "GOGC": value}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _pid, status, usage = os.wait4(proc.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"terraform plan failed under GOGC={value}:\n{proc.stderr.read().decode()[-2000:]}")
            rows.append({"gogc": value, "wall_s": time.monotonic() - started,
                         "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", default=str(ROOT / "parameters/apps/web.yaml"))
    args = parser.parse_args()
    os.environ.setdefault("RUNBOOK_TF_PROVIDER_MIRROR", "/opt/tf-plugins" if Path("/opt/tf-plugins").is_dir() else "")
    work = Path(tempfile.mkdtemp(prefix="runbook-bench-"))
    sandbox_dir = work / "sandbox"
    os.environ[server.SANDBOX_DIR_ENV] = str(sandbox_dir)
    os.environ["RUNBOOK_TF_PLUGIN_CACHE"] = str(work / "plugin-cache")
    env = dict(os.environ)
    running = server.start(directory=sandbox_dir)
    try:
        org = load_org(ROOT / "parameters/org.yaml")
        apps = [load_app(p, org) for p in sorted((ROOT / "parameters/apps").glob("*.yaml"))]
        apply = bench_apply(args.app, work, env)
        target_env = make_target("sandbox").terraform_env()
        nocache = bench_init(org, apps, work, False, target_env)
        cache_cold = bench_init(org, apps, work, True, target_env)
        shutil.rmtree(work / "init-cache")
        cache_warm = bench_init(org, apps, work, True, target_env)
        other = next(a for a, p in zip(apps, sorted((ROOT / "parameters/apps").glob("*.yaml")))
                     if p.resolve() != Path(args.app).resolve())
        gogc = bench_gogc(org, other, work)
    finally:
        server.stop(sandbox_dir)
    print(f"sandbox {running.url}, terraform work in {work}")
    print(f"runbook apply ({Path(args.app).name}, 3 roots from nothing): wall {apply['wall_s']:.1f} s, "
          f"cpu {apply['cpu_s']:.1f} s, peak RSS of one process {apply['peak_rss_mb']:.0f} MB")
    for label, r in (("init without plugin cache", nocache), ("init with plugin cache, cold", cache_cold),
                     ("init with plugin cache, warm", cache_warm)):
        print(f"{label}: {r['roots']} roots, wall {r['wall_s']:.1f} s, .terraform on disk {r['disk_mb']:.0f} MB")
    for r in gogc:
        print(f"plan of a new CI root ({other.name}) with GOGC={r['gogc']}: wall {r['wall_s']:.1f} s, "
              f"cpu {r['cpu_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
