"""A thin, typed wrapper of the Terraform CLI: one method per verb, JSON results.

Why not python-terraform: its last release is from 2019; it predates Terraform
1.x and builds commands current versions reject (its ``destroy`` passes the
removed ``-force`` flag). This wrapper runs the real CLI with subprocess, streams
its output as it comes, stops it cleanly on timeout, and reads results from
``-json`` output. Secrets never go on a command line: credentials come from the
environment, and the wrapper passes no variable values at all.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import TerraformError
from .binary import find_terraform, plugin_cache_in_use, plugin_cache_lock, terraform_env
from .errors import explain
from .gate import ApprovedPlan
from .plan import PlanSummary, file_digest, summarize
from .redact import redact

MIN_VERSION = (1, 10, 0)
MIN_VERSION_REASON = (
    "the rendered roots lock state with the S3 backend's use_lockfile, added in Terraform 1.10 "
    "(and terraform-codestar-setup main needs >= 1.6.2)"
)
HEARTBEAT_SECONDS = 15
INTERRUPT_GRACE_SECONDS = 20
PLAN_FILE = "runbook.tfplan"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

Sink = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _stop_with_parent() -> None:
    """In the child, before exec: on Linux, SIGINT Terraform if the thread that started it dies.

    Terraform then stops the way Ctrl-C stops it: it releases its state lock and ends
    its providers, instead of living on as an orphan after ``kill -9`` of a runbook
    process or a crashed batch worker. Elsewhere this does nothing.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    if not match:
        raise TerraformError(f"cannot read the Terraform version from {text!r}")
    return tuple(int(x) for x in match.groups())  # type: ignore[return-value]


class Terraform:
    """Terraform in one root module directory."""

    def __init__(self, workdir: Path, *, root: str | None = None, env: dict[str, str] | None = None,
                 config_dir: Path | None = None, plugin_cache: bool = True, timeout: float = 1800,
                 sink: Sink = print):
        self.workdir = Path(workdir).resolve()
        self.root = root or self.workdir.name
        self.binary = find_terraform()
        self.env = terraform_env(config_dir or self.workdir / ".terraform-runbook", plugin_cache=plugin_cache, extra=env)
        self.timeout = timeout
        self.sink = sink
        if self.env.get("TF_LOG"):
            self.sink(f"[{self.root}] warning: Terraform's debug log is on (TF_LOG={self.env['TF_LOG']}); it may "
                      "contain secrets: the known kinds are masked as (redacted), others may not be")

    # -- running -------------------------------------------------------------------
    def _run(self, args: list[str], *, stream: bool = True, check: bool = True, timeout: float | None = None) -> RunResult:
        command = [self.binary, f"-chdir={self.workdir}", *args]
        started = time.monotonic()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, start_new_session=True, bufsize=1, preexec_fn=_stop_with_parent)
        lines: queue.Queue[tuple[str, str | None]] = queue.Queue()

        def pump(pipe, name):
            for line in pipe:  # masked before it is shown, kept, or put in an error
                lines.put((name, redact(line)))
            lines.put((name, None))

        threads = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
        for t in threads:
            t.start()
        out, err, open_pipes = [], [], 2
        deadline = started + (timeout or self.timeout)
        last_output = started
        try:
            while open_pipes:
                now = time.monotonic()
                if now > deadline:
                    self._interrupt(proc)
                    raise TerraformError(
                        f"terraform {args[0]} in {self.root} did not finish within {int(timeout or self.timeout)} s "
                        "and was stopped (interrupted first, so Terraform could release its state lock).",
                        command, None, "".join(err))
                try:
                    name, line = lines.get(timeout=1)
                except queue.Empty:
                    if stream and now - last_output >= HEARTBEAT_SECONDS:
                        self.sink(f"[{self.root}] terraform {args[0]} still running ({int(now - started)} s)")
                        last_output = now
                    continue
                if line is None:
                    open_pipes -= 1
                    continue
                (out if name == "out" else err).append(line)
                last_output = time.monotonic()
                if stream and line.strip():
                    self.sink(f"[{self.root}] {line.rstrip()}")
            proc.wait()
        except BaseException:
            if proc.poll() is None:
                self._interrupt(proc)
            raise
        result = RunResult(command, proc.returncode, "".join(out), "".join(err), time.monotonic() - started)
        if check and result.returncode != 0:
            raise self._failure(args, result)
        return result

    def _interrupt(self, proc: subprocess.Popen) -> None:
        """SIGINT first (Terraform stops safely and releases its lock), SIGKILL if it will not stop.

        A second Ctrl-C while Terraform is stopping does not cut the wait short: leaving
        Terraform behind would leave its lock and its provider processes too.
        """
        self.sink(f"[{self.root}] stopping terraform (SIGINT, up to {INTERRUPT_GRACE_SECONDS} s to release its lock)")
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                break
            except KeyboardInterrupt:
                continue
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    def _failure(self, args: list[str], result: RunResult) -> TerraformError:
        text = result.stderr + result.stdout
        message = explain(text, self.root, str(self.workdir))
        if message is None:
            tail = "\n".join(line for line in result.stderr.strip().splitlines()[-15:])
            message = f"terraform {args[0]} failed in {self.root} (exit code {result.returncode}):\n{tail}"
        return TerraformError(message, result.args, result.returncode, result.stderr)

    # -- verbs ---------------------------------------------------------------------
    def version(self) -> str:
        result = self._run(["version", "-json"], stream=False)
        try:
            text = json.loads(result.stdout)["terraform_version"]
        except (ValueError, KeyError):  # Terraform before 0.13 ignores -json and prints "Terraform vX.Y.Z"
            match = re.search(r"Terraform v?(\d+\.\d+\.\d+)", result.stdout)
            if not match:
                raise TerraformError(f"cannot read the Terraform version from: {result.stdout.strip()[:200]!r}")
            text = match.group(1)
        if parse_version(text) < MIN_VERSION:
            need = ".".join(map(str, MIN_VERSION))
            raise TerraformError(f"Terraform {text} is too old: the runbook needs {need} or newer because {MIN_VERSION_REASON}.")
        return text

    def init(self) -> RunResult:
        """``terraform init``, holding the plugin cache's lock if a cache is used (see plugin_cache_lock)."""
        def waiting(lock_path: Path) -> None:
            self.sink(f"[{self.root}] waiting for another terraform init to release {lock_path}")

        with plugin_cache_lock(plugin_cache_in_use(self.env), on_wait=waiting):
            return self._run(["init", "-input=false", "-no-color", "-reconfigure"])

    def validate(self) -> dict:
        result = self._run(["validate", "-json", "-no-color"], stream=False, check=False)
        report = json.loads(result.stdout or "{}")
        if not report.get("valid", False):
            problems = "; ".join(f"{d.get('summary')}: {d.get('detail', '')}".strip() for d in report.get("diagnostics", []))
            raise TerraformError(f"terraform validate found problems in {self.root}: {problems}", result.args,
                                 result.returncode, result.stderr)
        return report

    def plan(self, *, destroy: bool = False) -> PlanSummary:
        plan_file = self.workdir / PLAN_FILE
        if plan_file.exists():
            plan_file.unlink()
        args = ["plan", "-input=false", "-no-color", f"-out={PLAN_FILE}"]
        if destroy:
            args.append("-destroy")
        self._run(args)
        if plan_file.exists():
            plan_file.chmod(0o600)  # a plan embeds prior state, secrets included
        show = self._run(["show", "-json", "-no-color", PLAN_FILE], stream=False)
        return summarize(json.loads(show.stdout), root=self.root, workdir=self.workdir, plan_file=plan_file)

    def apply(self, approved: ApprovedPlan) -> RunResult:
        """Apply exactly the plan that was summarized and approved, and nothing else."""
        if not isinstance(approved, ApprovedPlan):
            raise TerraformError("apply needs an approved plan (see runbook_lib.terraform.gate.approve).")
        summary = approved.summary
        plan_file = Path(summary.plan_file)
        if summary.workdir != str(self.workdir):
            raise TerraformError(f"the approved plan belongs to {summary.workdir}, not to {self.workdir}; nothing was applied.")
        if not plan_file.is_file():
            raise TerraformError(f"the approved plan file {plan_file} is gone; plan again. Nothing was applied.")
        if file_digest(plan_file) != summary.digest:
            raise TerraformError(f"the plan file {plan_file} changed after it was approved; plan again. Nothing was applied.")
        try:
            return self._run(["apply", "-input=false", "-no-color", "-auto-approve", str(plan_file)])
        finally:
            if plan_file.exists():
                plan_file.unlink()  # a plan is applied at most once

    def discard_plan(self) -> None:
        """Delete the saved plan of a plan that will not be applied (it embeds prior state, secrets included)."""
        (self.workdir / PLAN_FILE).unlink(missing_ok=True)

    def force_unlock(self, lock_id: str) -> RunResult:
        """Release a state lock left by a run that died (``-force``: the caller already confirmed the ID)."""
        return self._run(["force-unlock", "-force", "-no-color", lock_id])

    def output(self) -> dict:
        """Root outputs; sensitive ones read (sensitive)."""
        result = self._run(["output", "-json", "-no-color"], stream=False)
        raw = json.loads(result.stdout or "{}")
        return {name: ("(sensitive)" if o.get("sensitive") else o.get("value")) for name, o in raw.items()}
