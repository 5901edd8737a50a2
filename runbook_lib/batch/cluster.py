"""Jobs on a Dask cluster: ``runbook run --executor dask --scheduler tcp://HOST:8786``.

- ``start()`` connects (a scheduler that does not answer within the timeout is a
  clear error) and runs a probe on every worker: the package, at this machine's
  version, and a Terraform CLI. A worker that fails it is named, and nothing runs.
- Jobs are submitted as they are ready (all at once, or ``--jobs N`` at a time), each
  as a :class:`~runbook_lib.batch.remote.Parcel`; results come back through Dask's
  futures, as each job finishes, with its executed notebooks and record inside.
- Progress lines travel as Dask events: the worker logs each line on the run's topic,
  this process subscribes to it. Lines of one job arrive in the order it sent them.
- A worker lost mid-job: Dask gives the job to another worker. Before a notebook that
  can change AWS starts, the job notes that on the scheduler (in its metadata store,
  acknowledged first); a job that finds that note when it starts again does not
  run, and reports the lost worker and the notebook it was in. So a job is run again
  only when it had not started one that applies; when Dask gives up on it instead
  (every worker it was sent to died), the job fails with Dask's reason.
- Stop: a Dask Event for the run. Each job watches it; when it is set, the job's
  stop file is created and its kernel gets SIGINT, as on a local run.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

from ..engine import STOP_FILE_ENV
from ..errors import RunbookError
from .jobs import JobResult
from .remote import Shipped, land, pack, run_parcel

SCHEDULER_ENV = "RUNBOOK_DASK_SCHEDULER"
CONNECT_TIMEOUT = 10.0      # seconds to wait for the scheduler to answer
DISTRIBUTION = "eks-cicd-runbooks"
# Notebooks that can change AWS: a job lost after one of these started is not run again.
CHANGING_NOTEBOOKS = ("01-common-resources", "02-continuous-integration", "03-continuous-deployment")
STOP_POLL_SECONDS = 1.0


class ClusterError(RunbookError):
    """The Dask cluster cannot take this run; nothing was run or written."""


def probe_worker() -> dict:
    """Runs on each worker before the first job: what it has of what a job needs."""
    from ..terraform.binary import find_terraform
    from ..errors import TerraformError

    try:
        terraform = find_terraform()
    except TerraformError:
        terraform = None
    return {"version": importlib.metadata.version(DISTRIBUTION), "terraform": terraform,
            "host": socket.gethostname()}


class WorkerLines:
    """A ``report`` callable for jobs on Dask workers: each line is a Dask event on the run's topic."""

    def __init__(self, topic: str):
        self.topic = topic

    def __call__(self, line: str) -> None:
        from distributed import get_worker

        get_worker().log_event(self.topic, line)


def _kernels_of(stop_file: str) -> list:
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.environ().get(STOP_FILE_ENV) == stop_file:
                found.append(child)
        except psutil.Error:
            continue
    return found


def _note_key(run_id: str, label: str) -> list[str]:
    return ["runbook", run_id, label]


def run_on_worker(parcel, fn, run_id: str) -> Shipped:
    """The task each job is: refuse a second attempt after a changing notebook started, then run the parcel."""
    from distributed import Event, get_client, get_worker

    worker = get_worker()
    client = get_client()
    label = parcel.job.label
    note = _note_key(run_id, label)
    stop = Event(f"runbook-{run_id}-stop", client=client)
    earlier = client.get_metadata(note, default=None)   # None: no attempt of this job started a changing notebook
    if earlier:
        return Shipped(JobResult(label, error=(
            f"the Dask worker {earlier['worker']} running {label} was lost while {earlier['notebook']} was running; "
            "it may have applied changes, so the job was not run again (nothing is applied twice). "
            "Check its roots with runbook apply, or run the batch again.")), {})
    if stop.is_set():
        return Shipped(JobResult(label, interrupted=True), {})

    def before_notebook(name: str) -> None:
        if name in CHANGING_NOTEBOOKS:
            client.set_metadata(note, {"worker": worker.address, "notebook": name})   # acknowledged before it runs

    finished = threading.Event()

    def watch_stop(job) -> None:
        stop_file = dict(job.kernel_env)[STOP_FILE_ENV]
        while not finished.is_set():
            try:
                if stop.wait(timeout=STOP_POLL_SECONDS):
                    Path(stop_file).touch()
                    for kernel in _kernels_of(stop_file):
                        kernel.send_signal(signal.SIGINT)
                    return
            except Exception:  # the scheduler went away: the job ends on its own
                return

    def run(job):
        watcher = threading.Thread(target=watch_stop, args=(job,), daemon=True)
        watcher.start()
        try:
            return fn(job, before_notebook=before_notebook)
        finally:
            finished.set()

    return run_parcel(parcel, run, scratch_base=worker.local_directory)


PLAINTEXT_FLAG = "--allow-plaintext-scheduler"


def plaintext_risk(address: str) -> str | None:
    """Why a scheduler address is risky: not TLS and not on this machine (None when it is either)."""
    import ipaddress

    scheme, _, rest = address.partition("://") if "://" in address else ("tcp", "", address)
    if scheme == "tls":
        return None
    host = rest.rsplit(":", 1)[0].strip("[]") if ":" in rest else rest
    try:
        on_this_machine = ipaddress.ip_address(host).is_loopback
    except ValueError:
        on_this_machine = host == "localhost"
    if on_this_machine:
        return None
    return (f"the Dask scheduler {address} is not on this machine and the connection is not TLS: whoever can "
            "reach it can run code on its workers, which hold the AWS credentials Terraform uses on live. Use "
            f"tls:// with Dask's TLS settings (distributed.comm.tls), or pass {PLAINTEXT_FLAG} to accept that risk")


class DaskExecutor:
    """Jobs on the Dask cluster whose scheduler is at ``scheduler`` (or $RUNBOOK_DASK_SCHEDULER)."""

    name = "dask"
    remote = True

    def __init__(self, scheduler: str | None = None, jobs: int | None = None,
                 connect_timeout: float | None = None, env: dict[str, str] | None = None):
        self.address = scheduler or os.environ.get(SCHEDULER_ENV)
        if not self.address:
            raise ClusterError(f"--executor dask needs the scheduler's address: --scheduler tcp://HOST:8786 "
                               f"or {SCHEDULER_ENV}")
        self.jobs = jobs
        self.connect_timeout = connect_timeout or CONNECT_TIMEOUT
        self.env = dict(env or {})
        self.run_id = uuid.uuid4().hex[:12]
        self.client = None

    def start(self) -> None:
        from distributed import Client

        try:
            self.client = Client(self.address, timeout=self.connect_timeout, set_as_default=False)
        except Exception as exc:   # nothing listens, or what answers is not a Dask scheduler (MemoryError seen)
            raise ClusterError(f"no Dask scheduler answers at {self.address} (waited {self.connect_timeout:g} s): "
                               f"{type(exc).__name__}: {exc}") from None
        try:
            self._probe()
        except BaseException:
            self.close()
            raise

    def _probe(self) -> None:
        workers = self.client.scheduler_info().get("workers", {})
        if not workers:
            raise ClusterError(f"the Dask scheduler at {self.address} has no workers; start one with: "
                               f"dask worker {self.address}")
        mine = importlib.metadata.version(DISTRIBUTION)
        found = self.client.run(probe_worker, on_error="return")
        faults = []
        for address, answer in sorted(found.items()):
            if isinstance(answer, BaseException):
                faults.append(f"Dask worker {address} cannot run runbook_lib ({DISTRIBUTION} is not installed "
                              f"there, or not importable): {type(answer).__name__}: {answer}")
            elif answer["version"] != mine:
                faults.append(f"Dask worker {address} ({answer['host']}) has {DISTRIBUTION} {answer['version']}, "
                              f"this machine {mine}; install the same version on every worker")
            elif not answer["terraform"]:
                faults.append(f"Dask worker {address} ({answer['host']}) has no Terraform CLI on its PATH "
                              "(nor at RUNBOOK_TERRAFORM); install Terraform >= 1.10 there")
        if faults:
            raise ClusterError("the Dask cluster cannot run these jobs; nothing was run:\n  " + "\n  ".join(faults))

    @contextmanager
    def lines(self, progress):
        topic = f"runbook-lines-{self.run_id}"
        end = f"end of {topic}"
        ended = threading.Event()

        def handle(event) -> None:
            _when, line = event
            if line == end:
                ended.set()
            else:
                progress(line)
        self.client.subscribe_topic(topic, handle)
        try:
            yield WorkerLines(topic)
        finally:
            # Workers send a job's lines before its result, on the same stream; this last
            # event, sent after every result arrived, comes back after all of them.
            self.client.log_event(topic, end)
            ended.wait(30)
            self.client.unsubscribe_topic(topic)

    def run(self, fn, jobs):
        from distributed import as_completed

        waiting = list(jobs)
        running: dict = {}

        def submit():
            job = waiting.pop(0)
            future = self.client.submit(run_on_worker, pack(job, self.env), fn, self.run_id,
                                        key=f"runbook-{job.label}-{self.run_id}", pure=False, retries=0)
            running[future] = job
            return future

        limit = self.jobs or len(waiting)
        finished = as_completed([submit() for _ in range(min(limit, len(waiting)))], loop=self.client.loop)
        for future in finished:
            job = running.pop(future)
            try:
                yield job, land(job, future.result()), None
            except Exception as exc:  # KilledWorker (Dask gave up on it), a failed unpickle, a lost connection
                yield job, None, f"{type(exc).__name__}: {exc}"
            finally:
                future.release()
                self.client.set_metadata(_note_key(self.run_id, job.label), None)
            if waiting:
                finished.add(submit())

    def stop(self) -> None:
        if self.client is not None:
            from distributed import Event

            Event(f"runbook-{self.run_id}-stop", client=self.client).set()

    def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            client.close()
