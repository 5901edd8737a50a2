"""An applied sandbox two ways, side by side in one run: applied from nothing, or loaded from a snapshot.

1. ``apply``: a fresh sandbox, then ``runbook apply`` of one app (common + CI + CD) from nothing;
   its state is saved as a snapshot (the time and size of the save are printed).
2. ``restore``: a second fresh sandbox loads that snapshot, then the same app is planned in a new
   output folder (init and plan of each root, which must find nothing to change).

Both end in the same place: an applied app that a test can go on from. The ratio is what a test
pays for an applied sandbox with the snapshot against without it. Wall and CPU are this process's
and its children's (Terraform, providers); the emulators run detached and are not counted.

Run:  .venv/bin/python benchmarks/bench_snapshot.py  (offline: set RUNBOOK_TF_PROVIDER_MIRROR and RUNBOOK_TF_MODULE_MIRROR)
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runbook_lib.engine import Engine, Settings  # noqa: E402
from runbook_lib.parameters import load_app, load_org  # noqa: E402
from runbook_lib.results import DONE, Outcome  # noqa: E402
from runbook_lib.sandbox import server  # noqa: E402

ORG, APP = "parameters/org.yaml", "parameters/apps/web.yaml"


def _cpu() -> float:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _measured(label: str, work) -> tuple[float, float]:
    wall, cpu = time.monotonic(), _cpu()
    work()
    wall, cpu = time.monotonic() - wall, _cpu() - cpu
    print(f"{label}: wall {wall:.1f} s, CPU {cpu:.1f} s", flush=True)
    return wall, cpu


def main() -> int:
    os.chdir(ROOT)
    org = load_org(ORG)
    app = load_app(APP, org, ORG)
    scratch = Path(tempfile.mkdtemp(prefix="bench-snapshot-"))
    first, second = scratch / "sandbox-apply", scratch / "sandbox-restore"
    try:
        def run(directory: Path, out: Path, expect: set[Outcome]) -> None:
            os.environ[server.SANDBOX_DIR_ENV] = str(directory)
            results = Engine(Settings(org, app, target="sandbox", out=out, auto_approve=True),
                             sink=lambda _line: None).apply_all()
            assert all(r.outcome in expect for r in results), [(r.root, r.outcome, r.reason) for r in results]

        server.start(directory=first)
        applied = _measured("apply from nothing", lambda: run(first, scratch / "out-apply", DONE))
        started = time.monotonic()
        file = server.save_snapshot("applied", first)
        print(f"save: {time.monotonic() - started:.2f} s, {file.stat().st_size / 1e6:.2f} MB", flush=True)
        server.stop(first)

        server.start(directory=second)
        target = server.snapshot_file("applied", second)
        target.parent.mkdir(mode=0o700)
        shutil.copy(file, target)
        loaded = _measured("load the snapshot", lambda: server.load_snapshot("applied", second))
        planned = _measured("plan every root (no changes)",
                            lambda: run(second, scratch / "out-restore", {Outcome.NO_CHANGES}))
        restored = (loaded[0] + planned[0], loaded[1] + planned[1])
        print(f"restore + plan vs apply from nothing: wall {restored[0] / applied[0]:.2f}x, "
              f"CPU {restored[1] / applied[1]:.2f}x; the load alone: {loaded[0]:.1f} s", flush=True)
    finally:
        for directory in (first, second):
            server.stop(directory)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
