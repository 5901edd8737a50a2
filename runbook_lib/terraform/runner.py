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

import psutil

from ..errors import TerraformError
from ..stopping import end
from . import initstamp
from .binary import find_terraform, plugin_cache_in_use, plugin_cache_lock, terraform_env
from .errors import explain
from .gate import ApprovedPlan
from .imports import IMPORTS_FILE
from .plan import PlanSummary, file_digest, summarize, summary_from_stream
from .redact import redact
from .stream import read_message, words

MIN_VERSION = (1, 10, 0)
MIN_VERSION_REASON = (
    "the rendered roots lock state with the S3 backend's use_lockfile, added in Terraform 1.10 "
    "(and terraform-codestar-setup main needs >= 1.6.2)"
)
HEARTBEAT_SECONDS = 15
INTERRUPT_GRACE_SECONDS = 20        # on an idle machine; a busy one gives Terraform longer (interrupt_grace)
INTERRUPT_GRACE_MAX_SECONDS = 120
PLAN_FILE = "runbook.tfplan"
# The runbook's own folder in each root (mode 0700): Terraform's CLI config, saved plans,
# and a note per running Terraform command (see _Running).
PRIVATE_DIR = ".terraform-runbook"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
LEFTOVER_NAMES = ("terraform", "terraform-provider-")

Sink = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    messages: tuple[dict, ...] = ()   # with -json: Terraform's messages, in order (stdout holds their words)


def _stop_with_parent() -> None:
    """In the child, before exec: on Linux, SIGINT Terraform if the thread that started it dies.

    Terraform then stops the way Ctrl-C stops it: it releases its state lock and ends
    its providers, instead of living on as an orphan after ``kill -9`` of a runbook
    process or a crashed batch worker. Elsewhere this does nothing.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def private_dir(workdir: Path) -> Path:
    """The runbook's folder in a root, created readable by this user only."""
    folder = Path(workdir) / PRIVATE_DIR
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder.is_symlink() or folder.stat().st_uid != os.getuid():
            raise TerraformError(f"{folder} is not this user's own folder (a link, or another user's); the runbook "
                                 "keeps saved plans there, so it stops. Move it away and run again. Nothing was run.")
        folder.chmod(0o700)
    except OSError as exc:
        raise TerraformError(f"cannot make the runbook's private folder {folder} ({exc.strerror or exc}); "
                             "nothing was run.") from None
    return folder


def plan_path(workdir: Path) -> Path:
    """Where a root's saved plan lives while it waits to be applied (it embeds prior state, secrets included)."""
    return Path(workdir) / PRIVATE_DIR / PLAN_FILE


class _Running:
    """A note, in the root's private folder, of one Terraform command and the runbook process that started it.

    Terraform runs in its own process group, and its providers inherit that group.
    When the runbook process dies without stopping Terraform (``kill -9`` of Terraform
    too, a lost machine), the note stays; the next command in that root ends whatever
    is left of that group (see :func:`end_leftovers`). Notes of a runbook process that
    is still alive (another run of this root) are left alone.
    """

    def __init__(self, folder: Path, proc: subprocess.Popen):
        self.file = folder / f"running-{proc.pid}.json"
        owner = psutil.Process()
        try:
            started = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            started = time.time()
        self.file.write_text(json.dumps({"group": proc.pid, "started": started,
                                         "owner": owner.pid, "owner_started": owner.create_time()}))

    def done(self) -> None:
        self.file.unlink(missing_ok=True)


def _alive(pid: int, started: float) -> bool:
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1
    except psutil.Error:
        return False


def _leftovers(group: int, started: float) -> list[psutil.Process]:
    """This user's Terraform and provider processes in process group ``group``, started with or after it."""
    found = []
    for proc in psutil.process_iter(["name", "create_time", "uids"]):
        try:
            if (os.getpgid(proc.pid) == group and proc.info["uids"].real == os.getuid()
                    and proc.info["create_time"] >= started - 1
                    and proc.info["name"].startswith(LEFTOVER_NAMES)):
                found.append(proc)
        except (OSError, psutil.Error, AttributeError):
            continue
    return found


def end_leftovers(workdir: Path) -> list[str]:
    """End Terraform processes left in ``workdir`` by a runbook process that is gone; say which ("name (pid)")."""
    ended = []
    for note in sorted((Path(workdir) / PRIVATE_DIR).glob("running-*.json")):
        try:
            data = json.loads(note.read_text())
            group, started = int(data["group"]), float(data["started"])
            owner, owner_started = int(data["owner"]), float(data["owner_started"])
        except (OSError, ValueError, KeyError, TypeError):
            note.unlink(missing_ok=True)   # not a note this runner wrote: nothing is signalled on its word
            continue
        if _alive(owner, owner_started):
            continue
        procs = _leftovers(group, started)
        end(procs)
        ended += [f"{proc.info['name']} ({proc.pid})" for proc in procs]
        note.unlink(missing_ok=True)
    return ended


def _unlink_once_open(proc: subprocess.Popen, plan_file: Path, timeout: float = 30) -> None:
    """Remove the plan's name as soon as Terraform holds it open (Linux; elsewhere it goes after the apply).

    Terraform reads the plan through its open file for the whole apply, so from then on
    the plan, with the secrets of its prior state, is on disk under no name: a ``kill -9``
    of the run leaves none behind.
    """
    fds = Path(f"/proc/{proc.pid}/fd")
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline and fds.parent.exists():
        try:
            if any(os.readlink(fd) == str(plan_file) for fd in fds.iterdir()):
                plan_file.unlink(missing_ok=True)
                return
        except OSError:   # an fd closed while being read, or /proc unreadable
            pass
        time.sleep(0.05)


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    if not match:
        raise TerraformError(f"cannot read the Terraform version from {text!r}")
    return tuple(int(x) for x in match.groups())  # type: ignore[return-value]


class Terraform:
    """Terraform in one root module directory."""

    def __init__(self, workdir: Path, *, root: str | None = None, env: dict[str, str] | None = None,
                 config_dir: Path | None = None, plugin_cache: bool = True, timeout: float = 1800,
                 sink: Sink = print, cancel: threading.Event | None = None):
        self.workdir = Path(workdir).resolve()
        self.root = root or self.workdir.name
        self.binary = find_terraform()
        self.private = private_dir(self.workdir)
        self.env = terraform_env(config_dir or self.private, plugin_cache=plugin_cache, extra=env)
        self.timeout = timeout
        self.sink = sink
        self.cancel = cancel   # once set, the running command is interrupted as on Ctrl-C (KeyboardInterrupt)
        if self.env.get("TF_LOG"):
            self.sink(f"[{self.root}] warning: Terraform's debug log is on (TF_LOG={self.env['TF_LOG']}); it may "
                      "contain secrets: the known kinds are masked as (redacted), others may not be")
        ended = end_leftovers(self.workdir)
        if ended:
            self.sink(f"[{self.root}] ended {len(ended)} Terraform process(es) left running by an earlier run "
                      f"that was killed: {', '.join(ended)}")

    # -- running -------------------------------------------------------------------
    def _run(self, args: list[str], *, stream: bool = True, check: bool = True, timeout: float | None = None,
             started_hook: Callable[[subprocess.Popen], None] | None = None, json_lines: bool = False) -> RunResult:
        """Run one command; ``json_lines``: its stdout is ``-json`` messages, kept, and shown in words."""
        command = [self.binary, f"-chdir={self.workdir}", *args]
        started = time.monotonic()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, start_new_session=True, bufsize=1, preexec_fn=_stop_with_parent)
        running = _Running(self.private, proc)
        lines: queue.Queue[tuple[str, str | None]] = queue.Queue()

        def pump(pipe, name):
            for line in pipe:  # masked before it is shown, kept, or put in an error
                lines.put((name, redact(line)))
            lines.put((name, None))

        threads = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
        for t in threads:
            t.start()
        out, err, messages, open_pipes = [], [], [], 2
        deadline = started + (timeout or self.timeout)
        last_output = started
        try:
            if started_hook:
                started_hook(proc)
            while open_pipes:
                now = time.monotonic()
                if self.cancel is not None and self.cancel.is_set():
                    raise KeyboardInterrupt
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
                message = read_message(line) if json_lines and name == "out" else None
                if message is not None:
                    messages.append(message)
                    line = words(message) + "\n"
                (out if name == "out" else err).append(line)
                last_output = time.monotonic()
                if stream:
                    for text in line.rstrip().splitlines():
                        if text.strip():
                            self.sink(f"[{self.root}] {text}")
            proc.wait()
        except BaseException:
            if proc.poll() is None:
                self._interrupt(proc)
            raise
        finally:
            if proc.poll() is not None:
                running.done()
        result = RunResult(command, proc.returncode, "".join(out), "".join(err), time.monotonic() - started,
                           tuple(messages))
        if check and result.returncode != 0:
            raise self._failure(args, result)
        return result

    def _interrupt(self, proc: subprocess.Popen) -> None:
        grace = interrupt_grace()
        """SIGINT first (Terraform stops safely and releases its lock), SIGKILL if it will not stop.

        A second Ctrl-C while Terraform is stopping does not cut the wait short: leaving
        Terraform behind would leave its lock and its provider processes too.
        """
        self.sink(f"[{self.root}] stopping terraform (SIGINT, up to {grace:.0f} s to release its lock)")
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
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
        # with -json, Terraform's errors are messages on stdout, not text on stderr
        errors = "\n".join(words(m) for m in result.messages
                           if m.get("type") == "diagnostic" and (m.get("diagnostic") or {}).get("severity") == "error")
        stderr = "\n".join(part for part in (result.stderr, errors) if part.strip())
        message = explain(stderr + result.stdout, self.root, str(self.workdir))
        if message is None:
            tail = "\n".join(line for line in stderr.strip().splitlines()[-15:])
            message = f"terraform {args[0]} failed in {self.root} (exit code {result.returncode}):\n{tail}"
        return TerraformError(message, result.args, result.returncode, stderr)

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

    def init(self, *, backend: bool = True) -> RunResult:
        """``terraform init``, holding the plugin cache's lock if a cache is used (see plugin_cache_lock).

        Not run again while what it read and wrote is unchanged since it last succeeded here
        (see initstamp): a changed module source, backend, lock file, mirror or ``.terraform``
        runs it again.

        ``backend=False`` installs modules and providers only, for ``validate``: no state is read.
        """
        args = ["init", "-input=false", "-no-color", "-reconfigure" if backend else "-backend=false"]
        if initstamp.is_current(self.workdir, self.env, self.binary, args):
            self.sink(f"[{self.root}] terraform init: already done for these files, modules and settings; not run again")
            return RunResult([self.binary, f"-chdir={self.workdir}", *args], 0, "", "", 0.0)

        def waiting(lock_path: Path) -> None:
            self.sink(f"[{self.root}] waiting for another terraform init to release {lock_path}")

        with plugin_cache_lock(plugin_cache_in_use(self.env), on_wait=waiting):
            result = self._run(args)
        initstamp.record(self.workdir, self.env, self.binary, args)
        return result

    def validate(self) -> dict:
        result = self._run(["validate", "-json", "-no-color"], stream=False, check=False)
        report = json.loads(result.stdout or "{}")
        if not report.get("valid", False):
            problems = "; ".join(f"{d.get('summary')}: {d.get('detail', '')}".strip() for d in report.get("diagnostics", []))
            raise TerraformError(f"terraform validate found problems in {self.root}: {problems}", result.args,
                                 result.returncode, result.stderr)
        return report

    def plan(self, *, destroy: bool = False) -> PlanSummary:
        plan_file = plan_path(self.workdir)
        plan_file.unlink(missing_ok=True)
        (self.workdir / PLAN_FILE).unlink(missing_ok=True)  # where earlier versions kept it
        args = ["plan", "-input=false", "-no-color", "-json", f"-out={plan_file}"]
        if destroy:
            args.append("-destroy")
        planned = self._run(args, json_lines=True)
        if plan_file.exists():
            plan_file.chmod(0o600)  # a plan embeds prior state, secrets included; its folder is 0700 too
        # The plan's own messages say what it does; only an update's attributes need show -json,
        # which starts the provider once more to read them back from the saved plan.
        summary = summary_from_stream(list(planned.messages), root=self.root, workdir=self.workdir, plan_file=plan_file)
        if summary is not None:
            return summary
        show = self._run(["show", "-json", "-no-color", str(plan_file)], stream=False)
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
            result = self._run(["apply", "-input=false", "-no-color", "-auto-approve", str(plan_file)],
                               started_hook=lambda proc: _unlink_once_open(proc, plan_file))
        finally:
            if plan_file.exists():
                plan_file.unlink()  # a plan is applied at most once
        (self.workdir / IMPORTS_FILE).unlink(missing_ok=True)  # its imports are in the state now
        return result

    def discard_plan(self) -> None:
        """Delete the saved plan of a plan that will not be applied (it embeds prior state, secrets included),
        and the import blocks written for it."""
        plan_path(self.workdir).unlink(missing_ok=True)
        (self.workdir / IMPORTS_FILE).unlink(missing_ok=True)  # import blocks belong to the plan they were made for

    def force_unlock(self, lock_id: str) -> RunResult:
        """Release a state lock left by a run that died (``-force``: the caller already confirmed the ID)."""
        return self._run(["force-unlock", "-force", "-no-color", lock_id])

    def output(self) -> dict:
        """Root outputs; sensitive ones read (sensitive)."""
        result = self._run(["output", "-json", "-no-color"], stream=False)
        raw = json.loads(result.stdout or "{}")
        return {name: ("(sensitive)" if o.get("sensitive") else o.get("value")) for name, o in raw.items()}


def interrupt_grace(load: float | None = None, cores: int | None = None) -> float:
    """How long Terraform gets to stop after SIGINT: 20 s on an idle machine, more in proportion to its load.

    Stopping means the provider finishing its calls and Terraform deleting its lock object:
    on a machine with more runnable processes than cores, each of those takes longer.
    """
    load = os.getloadavg()[0] if load is None else load
    cores = cores or os.cpu_count() or 1
    return min(INTERRUPT_GRACE_MAX_SECONDS, INTERRUPT_GRACE_SECONDS * max(1.0, load / cores))
