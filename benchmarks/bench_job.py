"""One application, measured side by side in one run, each case on a fresh sandbox.

1. ``runbook apply`` of one app (common + CI + CD from nothing) against plain Terraform
   as a person runs it on the same rendered roots: ``terraform init`` then
   ``terraform apply -auto-approve``, root by root, Terraform's default settings.
2. One application job as ``runbook run`` runs it: notebooks 02, 03 and 04 through
   papermill in one process, after 00 and 01 ran on that sandbox.
3. With ``--breakdown``: where one ``runbook apply`` spends its time, per Terraform
   command and per AWS provider start (a counting copy of the provider mirror and a
   timing wrapper around Terraform, both through ``/usr/bin/time``).

``--before DIR`` runs the runbook cases a second time from another checkout (its
``runbook_lib`` and notebooks, this virtualenv), interleaved with these, so "before" and
"after" share the machine's load. Wall and CPU come from ``wait4`` on each process: they
cover every process it started and waited for (Terraform, providers, kernels), not the
sandbox, which runs detached from them.

Run:  .venv/bin/python benchmarks/bench_job.py [--rounds N] [--before DIR] [--breakdown]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runbook_lib.sandbox import server  # noqa: E402

PROVIDER = "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws_v5.100.0_x5"
ORG, APP = "parameters/org.yaml", "parameters/apps/web.yaml"


def _measured(command: list[str], *, cwd: Path, env: dict) -> tuple[float, float]:
    """Wall and CPU seconds of ``command`` and everything it waited for; raise when it fails."""
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({proc.returncode}):\n{output[-4000:]}")
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime


class Case:
    """One checkout of the runbook: its code (``PYTHONPATH``), notebooks and parameters."""

    def __init__(self, label: str, code: Path, work: Path):
        self.label, self.code, self.work = label, code, work

    def env(self, sandbox: Path, extra: dict | None = None) -> dict:
        return {**os.environ, "PYTHONPATH": str(self.code), "RUNBOOK_PROJECT_ROOT": str(self.code),
                server.SANDBOX_DIR_ENV: str(sandbox), **(extra or {})}

    def runbook(self, args: list[str], sandbox: Path, extra: dict | None = None) -> tuple[float, float]:
        return _measured([sys.executable, "-m", "runbook_lib.cli", *args], cwd=self.code, env=self.env(sandbox, extra))


def _sandbox(work: Path, name: str) -> Path:
    """A fresh sandbox, seeded with the example organization."""
    directory = work / name
    subprocess.run([sys.executable, "-m", "runbook_lib.cli", "sandbox", "start", "--org", str(ROOT / ORG)],
                   env={**os.environ, server.SANDBOX_DIR_ENV: str(directory)}, check=True, capture_output=True)
    return directory


def _stop(directory: Path) -> None:
    subprocess.run([sys.executable, "-m", "runbook_lib.cli", "sandbox", "stop"],
                   env={**os.environ, server.SANDBOX_DIR_ENV: str(directory)}, capture_output=True)


def apply_runbook(case: Case, name: str) -> tuple[float, float]:
    sandbox = _sandbox(case.work, name)
    try:
        return case.runbook(["apply", "--org", ORG, "--app", APP, "--target", "sandbox", "--out",
                             str(case.work / name / "out"), "--auto-approve"], sandbox)
    finally:
        _stop(sandbox)


def apply_plain(work: Path, name: str) -> tuple[float, float]:
    """``terraform init`` + ``terraform apply -auto-approve`` per root, as a person runs them (GOGC unset)."""
    sandbox = _sandbox(work, name)
    out = work / name / "out"
    env = {**os.environ, server.SANDBOX_DIR_ENV: str(sandbox)}
    try:
        subprocess.run([sys.executable, "-m", "runbook_lib.cli", "render", "--org", ORG, "--app", APP,
                        "--target", "sandbox", "--out", str(out)], cwd=ROOT, env=env, check=True, capture_output=True)
        probe = ("import json, os\nfrom runbook_lib.targets import make_target\nfrom runbook_lib.terraform.binary "
                 "import terraform_env\nfrom pathlib import Path\nd = Path(os.environ['CONF'])\nd.mkdir(exist_ok=True)\n"
                 "e = terraform_env(d, extra=make_target('sandbox').terraform_env())\nprint(json.dumps(e))")
        tf_env = __import__("json").loads(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, text=True,
                                                         capture_output=True, env={**env, "CONF": str(work / name / "cli")}
                                                         ).stdout)
        tf_env.pop("GOGC", None)   # Terraform's default, as a person runs it
        wall = cpu = 0.0
        terraform = shutil.which("terraform", path=tf_env.get("PATH"))
        for root in ("infra/cicd-common", "infra/ci/web", "infra/cd/web"):
            for args in (["init", "-input=false"], ["apply", "-input=false", "-auto-approve"]):
                w, c = _measured([terraform, f"-chdir={out / root}", *args], cwd=ROOT, env=tf_env)
                wall, cpu = wall + w, cpu + c
        return wall, cpu
    finally:
        _stop(sandbox)


def app_job(case: Case, name: str) -> tuple[float, float]:
    """00 and 01 (not measured), then the application job's 02, 03, 04 through papermill in one process."""
    sandbox = _sandbox(case.work, name)
    out = case.work / name / "out"
    script = ("import sys, papermill\nnbs, out, params = sys.argv[1].split(','), sys.argv[2], dict(out_dir=sys.argv[3], "
              "target='sandbox')\nfor nb in nbs:\n    papermill.execute_notebook(f'notebooks/{nb}', f'{out}/{nb}', "
              "parameters=params, cwd='.', progress_bar=False)\n")
    common = "00-prerequisites-and-preflight.ipynb,01-common-resources.ipynb"
    job = "02-continuous-integration.ipynb,03-continuous-deployment.ipynb,04-verify-and-operate.ipynb"
    (case.work / name).mkdir(parents=True, exist_ok=True)
    try:
        _measured([sys.executable, "-c", script, common, str(case.work / name), str(out)], cwd=case.code,
                  env=case.env(sandbox))
        return _measured([sys.executable, "-c", script, job, str(case.work / name), str(out)], cwd=case.code,
                         env=case.env(sandbox))
    finally:
        _stop(sandbox)


def breakdown(case: Case) -> str:
    """``runbook apply`` once more, with every Terraform command and provider start timed by /usr/bin/time."""
    tools = case.work / "counting"
    log = tools / "log"
    (tools / "bin").mkdir(parents=True, exist_ok=True)
    provider = tools / "mirror" / PROVIDER
    provider.parent.mkdir(parents=True, exist_ok=True)
    real_mirror = Path(os.environ["RUNBOOK_TF_PROVIDER_MIRROR"])
    parent = "$(tr '\\0' ' ' < /proc/$PPID/cmdline | sed 's/ -[a-z-]*=[^ ]*//g; s/ -[a-z-]*//g; s#^[^ ]*/##')"
    provider.write_text(f'#!/bin/sh\nexec /usr/bin/time -a -o {log} -f "provider %e %U %S {parent}" '
                        f'{real_mirror / PROVIDER} "$@"\n')
    terraform = tools / "bin" / "terraform"
    terraform.write_text(f'#!/bin/sh\nexec /usr/bin/time -a -o {log} -f "command %e %U %S %C" {shutil.which("terraform")} "$@"\n')
    for path in (provider, terraform):
        path.chmod(0o755)
    wall, cpu = apply_runbook_counted(case, tools)
    rows: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in ("provider", "command"):
            if parts[0] == "command":
                words = [p for p in parts[5:] if not p.startswith("-") or p.startswith("-chdir")]
                root = next((p.split("/infra/")[1] for p in words if "/infra/" in p), "")
                verb = next((p for p in words if not p.startswith(("-", "/"))), "?")
                key = f"terraform {verb} {root}".strip()
            else:
                key = f"  provider starts in {' '.join(parts[4:6])}"
            row = rows.setdefault(key, [0, 0.0, 0.0])
            row[0] += 1
            row[1] += float(parts[1])
            row[2] += float(parts[2]) + float(parts[3])
    lines = [f"{case.label}: runbook apply with counting wrappers: wall {wall:.1f} s, CPU {cpu:.1f} s",
             f"{'what':45s} {'count':>5s} {'wall s':>8s} {'CPU s':>8s}"]
    lines += [f"{k:45s} {n:5d} {w:8.1f} {c:8.1f}" for k, (n, w, c) in rows.items()]
    return "\n".join(lines)


def apply_runbook_counted(case: Case, tools: Path) -> tuple[float, float]:
    sandbox = _sandbox(case.work, f"counted-{case.label}")
    try:
        return case.runbook(["apply", "--org", ORG, "--app", APP, "--target", "sandbox", "--out",
                             str(case.work / f"counted-{case.label}" / "out"), "--auto-approve"], sandbox,
                            {"RUNBOOK_TERRAFORM": str(tools / "bin" / "terraform"),
                             "RUNBOOK_TF_PROVIDER_MIRROR": str(tools / "mirror")})
    finally:
        _stop(sandbox)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--before", type=Path, help="another checkout of the project, measured beside this one")
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--only", choices=("apply", "job"))
    args = parser.parse_args()
    os.environ.setdefault("RUNBOOK_TF_PROVIDER_MIRROR", "/opt/tf-plugins")
    work = Path(tempfile.mkdtemp(prefix="perf-bench-job-"))
    cases = [Case("after", ROOT, work / "after")]
    if args.before:
        cases.append(Case("before", args.before.resolve(), work / "before"))
    results: dict[str, list[tuple[float, float]]] = {}

    def note(key: str, value: tuple[float, float]) -> None:
        results.setdefault(key, []).append(value)
        load = os.getloadavg()[0]
        print(f"{key}: wall {value[0]:.1f} s, CPU {value[1]:.1f} s (load {load:.2f})", flush=True)

    for number in range(args.rounds):
        order = cases if number % 2 == 0 else list(reversed(cases))
        if args.only != "job":
            for case in order:
                note(f"runbook apply ({case.label})", apply_runbook(case, f"apply-{number}"))
            note("plain terraform init + apply", apply_plain(work, f"plain-{number}"))
        if args.only != "apply":
            for case in order:
                note(f"app job 02-04 ({case.label})", app_job(case, f"job-{number}"))
    print("\nmedians:")
    medians = {k: (sorted(w for w, _ in v)[len(v) // 2], sorted(c for _, c in v)[len(v) // 2]) for k, v in results.items()}
    for key, (w, c) in medians.items():
        print(f"  {key}: wall {w:.1f} s, CPU {c:.1f} s")
    plain = medians.get("plain terraform init + apply")
    for case in cases:
        mine = medians.get(f"runbook apply ({case.label})")
        if plain and mine:
            print(f"  runbook apply ({case.label}) / plain Terraform: wall {mine[0] / plain[0]:.2f}x, "
                  f"CPU {mine[1] / plain[1]:.2f}x")
    if args.breakdown:
        for case in cases:
            print("\n" + breakdown(case))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
