"""``runbook run --executor dask`` on a real Dask cluster: a scheduler and two worker processes over TCP (LocalCluster).

The same two example applications give the same summary and report as the local
process pool; a worker killed mid-job fails that job with the reason while the other
application completes, and leaves no state lock; bad input stops before anything runs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from runbook_lib.batch import run_batch
from runbook_lib.batch.cluster import DaskExecutor
from runbook_lib.cli import EXIT_INTERRUPTED, EXIT_PARTIAL, main
from runbook_lib.sandbox import server

from .conftest import ROOT, needs_terraform, restore_golden
from .tiers import DELIBERATE_FAULTS, starts

WEB = "parameters/apps/web.yaml"


@pytest.fixture(scope="module")
@starts("a Dask cluster")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp",
                      dashboard_address=":0", worker_dashboard_address=None) as running:
        yield running


def _nothing_in(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


# --- bad input: a clear message before anything runs, exit 2, nothing in the runs folder ---

def test_a_scheduler_that_does_not_answer_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("runbook_lib.batch.cluster.CONNECT_TIMEOUT", 2.0)
    with socket_nobody_listens_on() as address:
        code = main(["run", "--apps", WEB, "--executor", "dask", "--scheduler", address, "--out", str(tmp_path / "runs")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"no Dask scheduler answers at {address} (waited 2 s)" in err and "Traceback" not in err
    assert _nothing_in(tmp_path / "runs")


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "192.168.1.9:8786", "tcp://scheduler.example:8786"])
def test_a_plaintext_scheduler_elsewhere_is_refused_unless_allowed(tmp_path, capsys, monkeypatch, address):
    """Hostile: a scheduler off this machine without TLS is refused before any connection; the flag lets it through."""
    monkeypatch.setattr("runbook_lib.batch.cluster.CONNECT_TIMEOUT", 0.5)
    code = main(["run", "--apps", WEB, "--executor", "dask", "--scheduler", address, "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and f"the Dask scheduler {address} is not on this machine and the connection is not TLS" in err
    assert "--allow-plaintext-scheduler" in err and _nothing_in(tmp_path / "runs")
    monkeypatch.setenv("RUNBOOK_DASK_SCHEDULER", address)   # the same rule for the address from the environment
    assert main(["run", "--apps", WEB, "--executor", "dask", "--out", str(tmp_path / "runs")]) == 2
    assert "is not on this machine" in capsys.readouterr().err
    from runbook_lib.batch.runner import make_executor

    allowed = make_executor("dask", scheduler=address, allow_plaintext_scheduler=True)   # (connects only when started)
    assert allowed.address == address


def test_the_scheduler_can_come_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("runbook_lib.batch.cluster.CONNECT_TIMEOUT", 2.0)
    with socket_nobody_listens_on() as address:
        monkeypatch.setenv("RUNBOOK_DASK_SCHEDULER", address)
        assert main(["run", "--apps", WEB, "--executor", "dask", "--out", str(tmp_path / "runs")]) == 2
    assert f"no Dask scheduler answers at {address}" in capsys.readouterr().err


def test_dask_without_a_scheduler_address_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RUNBOOK_DASK_SCHEDULER", raising=False)
    assert main(["run", "--apps", WEB, "--executor", "dask", "--out", str(tmp_path / "runs")]) == 2
    assert "--executor dask needs the scheduler's address" in capsys.readouterr().err
    assert _nothing_in(tmp_path / "runs")


def test_an_unknown_executor_is_refused(tmp_path, capsys):
    assert main(["run", "--apps", WEB, "--executor", "ray", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "--executor 'ray' is not an executor; choose one of: local, dask" in err and "Traceback" not in err
    assert _nothing_in(tmp_path / "runs")


def test_jobs_0_is_refused_with_dask_too(tmp_path, capsys, cluster):
    assert main(["run", "--apps", WEB, "--executor", "dask", "--scheduler", cluster.scheduler_address,
                 "--jobs", "0", "--out", str(tmp_path / "runs")]) == 2
    assert "--jobs 0 must be 1 or more" in capsys.readouterr().err
    assert _nothing_in(tmp_path / "runs")


def test_a_zero_notebook_timeout_is_refused(tmp_path, capsys):
    assert main(["run", "--apps", WEB, "--notebook-timeout", "0", "--out", str(tmp_path / "runs")]) == 2
    assert "--notebook-timeout 0 must be a number of seconds above 0" in capsys.readouterr().err
    assert _nothing_in(tmp_path / "runs")


class socket_nobody_listens_on:
    """A tcp:// address on loopback that nothing listens on (the port was bound, then let go)."""

    def __enter__(self) -> str:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"tcp://127.0.0.1:{port}"

    def __exit__(self, *_exc) -> None:
        pass


def _extra_worker(scheduler: str, env: dict, python_prelude: str = "") -> subprocess.Popen:
    """A real ``dask worker`` process joining ``scheduler``, started with ``env`` (and some Python run first)."""
    code = python_prelude + "import sys; from distributed.cli.dask_worker import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, scheduler, "--nthreads", "1",
                             "--no-dashboard", "--no-nanny", "--name", "odd-one"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _joined(cluster, name: str, timeout: float = 60) -> None:
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(w.get("name") == name for w in client.scheduler_info()["workers"].values()):
                return
            time.sleep(0.3)
    raise AssertionError(f"worker {name} did not join")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _run_beside_an_odd_worker(cluster, tmp_path: Path, capsys, env: dict, python_prelude: str = "") -> tuple[int, str]:
    """``runbook run`` on the cluster while one extra worker, started with ``env``, has joined it: (exit code, stderr)."""
    worker = _extra_worker(cluster.scheduler_address, env, python_prelude)
    try:
        _joined(cluster, "odd-one")
        code = main(["run", "--apps", WEB, "--executor", "dask", "--scheduler", cluster.scheduler_address,
                     "--out", str(tmp_path / "runs")])
    finally:
        _stop(worker)
    return code, capsys.readouterr().err


@pytest.mark.slow
def test_a_worker_without_terraform_is_named_and_nothing_runs(tmp_path, capsys, cluster):
    terraform_dir = os.path.dirname(os.path.realpath(subprocess.check_output(["which", "terraform"], text=True).strip()))
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if p and not os.path.isfile(os.path.join(p, "terraform")) and p != terraform_dir)
    env = {k: v for k, v in os.environ.items() if k != "RUNBOOK_TERRAFORM"}
    env["PATH"] = path
    code, err = _run_beside_an_odd_worker(cluster, tmp_path, capsys, env)
    assert code == 2, err
    assert re.search(r"Dask worker tcp://\S+ \(\S+\) has no Terraform CLI on its PATH", err), err
    assert err.count("Dask worker ") == 1   # only the odd one: the cluster's own two have Terraform
    assert _nothing_in(tmp_path / "runs")


@pytest.mark.slow
def test_a_worker_without_the_package_is_named_and_nothing_runs(tmp_path, capsys, cluster):
    # a worker process in which runbook_lib cannot be imported, as on a machine it was never installed on
    code, err = _run_beside_an_odd_worker(cluster, tmp_path, capsys, dict(os.environ),
                                          "import sys; sys.modules['runbook_lib'] = None; ")
    assert code == 2, err
    assert re.search(r"Dask worker tcp://\S+ cannot run runbook_lib \(eks-cicd-runbooks is not installed there", err), err
    assert "Traceback" not in err
    assert _nothing_in(tmp_path / "runs")


# --- real runs: the two examples in a sandbox of their own, real Terraform, real kernels ---

def _held(job, before_notebook=None):
    """A job that says it started (a Dask queue) and holds its worker until the test releases it (a Dask event)."""
    from distributed import Event, Queue

    from runbook_lib.batch.jobs import JobResult

    tag = job.label.split("-app")[0]   # the test's round, which names its queue
    Queue(f"started-{tag}").put(job.label)
    assert Event(f"release-{job.label}").wait(timeout=300), "never released"
    return JobResult(job.label)


def _running_tasks(client) -> int:
    """How many of the run's job tasks the scheduler knows that are not finished: what the executor submitted."""
    def count(dask_scheduler):
        return sum(1 for key, task in dask_scheduler.tasks.items()
                   if str(key).startswith("runbook-") and task.state not in ("memory", "erred", "released", "forgotten"))
    return client.run_on_scheduler(count)


def test_jobs_n_bounds_how_many_jobs_run_at_once_on_the_cluster(tmp_path, cluster):
    """--jobs N with Dask: N jobs start at once when there are workers for them, and never more than N.

    Counted with Dask's own primitives, not clocks: each job reports its start on a Dask queue and
    waits for a Dask event; the test reads how many job tasks the scheduler holds, releases one
    job, and waits for the next to start.
    """
    from distributed import Client, Event, Queue

    from runbook_lib.batch.jobs import Job

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        for limit in (1, 2):
            tag = f"limit-{limit}"
            jobs = [Job(f"{tag}-app{i}", (), str(tmp_path / tag / f"app{i}"), str(tmp_path / tag / f"app{i}.json"),
                        str(ROOT)) for i in range(4)]
            started = Queue(f"started-{tag}", client=client)
            executor = DaskExecutor(scheduler=cluster.scheduler_address, jobs=limit)
            executor.start()
            finished: list[str] = []
            runner = threading.Thread(target=lambda: finished.extend(
                result.label for _job, result, _error in executor.run(_held, jobs)), daemon=True)
            runner.start()
            try:
                running = [started.get(timeout=120) for _ in range(limit)]   # N start at once
                assert _running_tasks(client) == limit   # and no more were handed to the cluster
                for released in range(1, len(jobs) + 1):
                    Event(f"release-{running.pop(0)}", client=client).set()
                    if released + len(running) < len(jobs):   # the released job's place goes to the next one
                        running.append(started.get(timeout=120))
                        assert _running_tasks(client) == len(running) == limit
            finally:
                for job in jobs:
                    Event(f"release-{job.label}", client=client).set()
                runner.join(120)
                executor.close()
            assert sorted(finished) == [job.label for job in jobs]


def _comparable(run_dir: Path) -> tuple[dict, str]:
    """summary.json and report.html with what differs between any two runs (times, run name, folders) taken out."""
    summary = json.loads((run_dir / "summary.json").read_text())
    report = (run_dir / "report.html").read_text().replace(run_dir.name, "RUN")
    for job in summary["jobs"]:
        for step in job["steps"]:
            step["seconds"] = 0
            step["path"] = re.sub(r"^.*/\d{8}T\d{6}Z(\.partial)?/", "", step["path"])   # written before the rename
        for root in (job["record"] or {}).get("roots", []):
            root["seconds"] = 0
    report = re.sub(r"<td>[0-9.]+ s</td>", "<td>S s</td>", report)
    return summary, report


def _leaves(value, path: str = "") -> dict[str, object]:
    """Every scalar in a JSON value by its path, so a failed comparison names only what differs."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _leaves(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _leaves(item, f"{path}[{i}]").items()}
    return {path: value}


def _differences(one: dict, other: dict) -> list[str]:
    a, b = _leaves(one), _leaves(other)
    return [f"{key}: {a.get(key, '<absent>')!r} != {b.get(key, '<absent>')!r}"
            for key in sorted(a.keys() | b.keys()) if a.get(key, "<absent>") != b.get(key, "<absent>")]


def _fresh_sandbox(tmp_path: Path, name: str, monkeypatch) -> Path:
    directory = tmp_path / name
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(directory))
    return directory


@needs_terraform()
@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("browser")   # beside the browser's report test, which looks at the same local run
def test_a_dask_run_gives_the_same_summary_and_report_as_the_process_pool(tmp_path, cluster, golden,
                                                                           web_run_on_applied, monkeypatch):
    """Both runs (the common job and web's) start from the run's applied snapshot, each in a sandbox of its own.

    The process pool's run is the suite's ``web_run_on_applied``; the Dask run is made here.
    """
    runs = {"local": web_run_on_applied[0]}
    lines: dict[str, list[str]] = {"local": web_run_on_applied[1], "dask": []}
    directory = _fresh_sandbox(tmp_path, "sandbox-dask", monkeypatch)
    restore_golden(golden, "applied", directory)
    try:
        run_dir, results, interrupted = run_batch("parameters/org.yaml", [WEB], executor="dask",
                                                  scheduler=cluster.scheduler_address, out=str(tmp_path / "runs-dask"),
                                                  progress=lines["dask"].append)
    finally:
        server.stop(directory)
    assert not interrupted and all(r.healthy for r in results), [(r.label, r.problems()) for r in results]
    runs["dask"] = run_dir
    local_summary, local_report = _comparable(runs["local"])
    dask_summary, dask_report = _comparable(runs["dask"])
    assert _differences(dask_summary, local_summary) == []
    assert dask_report == local_report
    for app in ("web",):   # the executed notebooks and the record came back into the run folder
        for nb in ("02-continuous-integration", "03-continuous-deployment", "04-verify-and-operate"):
            assert (runs["dask"] / app / f"{nb}.ipynb").is_file()
        assert (runs["dask"] / app / "record.json").is_file()
        mine = [line for line in lines["dask"] if line.startswith(f"[{app}] ")]   # sent from the worker, in order
        assert mine[0].startswith(f"[{app}] started: 02-continuous-integration")
        assert [line.split(":")[0] for line in mine[1:4]] == [
            f"[{app}] 02-continuous-integration", f"[{app}] 03-continuous-deployment", f"[{app}] 04-verify-and-operate"]
        assert mine[-1].startswith(f"[{app}] done in ")
    assert sorted(p.name for p in (runs["dask"] / "work").iterdir()) == ["common"]   # app roots stayed on the workers


def _locks(sandbox_dir: Path) -> list[str]:
    from runbook_lib.parameters import load_org
    from runbook_lib.sandbox.clients import SandboxSessions

    org = load_org(ROOT / "parameters/org.yaml")
    running = server.status(sandbox_dir)
    s3 = SandboxSessions(running.url, org.region, org.terraform_role_name).client("s3", "111111111111")
    listed = s3.list_objects_v2(Bucket=org.state_bucket).get("Contents", [])
    return [o["Key"] for o in listed if o["Key"].endswith(".tflock")]


def _terraform_commands(worker: psutil.Process) -> list[str]:
    """The command lines of the worker's Terraform descendants; a child that ends while it is read is skipped."""
    commands = []
    for child in worker.children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:   # it ended (or became a zombie) between the listing and the read
            continue
        if "terraform" in command:
            commands.append(command)
    return commands


@needs_terraform()
@pytest.mark.sandbox
@pytest.mark.slow
def test_a_worker_killed_mid_job_fails_that_job_with_the_reason_and_the_other_completes(tmp_path, cluster, golden,
                                                                                        monkeypatch):
    from distributed import Client

    sandbox_dir = _fresh_sandbox(tmp_path, "sandbox-kill", monkeypatch)
    # both apps applied: worker's job completes on plans alone, web's is killed while planning (its plan holds
    # the state lock); kept by the test, to read its state bucket afterwards
    restore_golden(golden, "applied", sandbox_dir)
    (sandbox_dir / DELIBERATE_FAULTS).write_text("a worker is killed mid-plan: a lost answer is expected\n")
    killed: list[str] = []

    def kill_the_worker_running_web():
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline and not killed:
                pids = client.run(os.getpid)
                for address, keys in client.processing().items():
                    if not any(str(k).startswith("runbook-web-") for k in keys):
                        continue
                    worker = psutil.Process(pids[address])
                    if any(" plan " in f" {command} " for command in _terraform_commands(worker)):
                        # web's 02 is planning its CI root
                        worker.send_signal(signal.SIGKILL)
                        killed.append(address)
                        return
                time.sleep(0.5)

    killer = threading.Thread(target=kill_the_worker_running_web, daemon=True)
    killer.start()
    lines: list[str] = []
    try:
        _run_dir, results, interrupted = run_batch("parameters/org.yaml", ["parameters/apps"], executor="dask",
                                                   scheduler=cluster.scheduler_address, out=str(tmp_path / "runs"),
                                                   progress=lines.append)
        killer.join(timeout=10)
        assert killed, "\n".join(lines)
        by_label = {r.label: r for r in results}
        assert by_label["worker"].healthy, by_label["worker"].problems()
        web = by_label["web"]
        assert not web.healthy and not interrupted
        assert (f"the Dask worker {killed[0]} running web was lost while 02-continuous-integration was running; "
                "it may have applied changes, so the job was not run again") in web.error, web.error
        deadline = time.monotonic() + 90   # the lost worker's kernel notices its parent is gone; its Terraform stops
        while _locks(sandbox_dir) and time.monotonic() < deadline:
            time.sleep(2)
        assert _locks(sandbox_dir) == []
    finally:
        server.stop(sandbox_dir)


def _worker_descendants(cluster) -> list[str]:
    """Kernels and Terraform processes still running under the cluster's workers."""
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        pids = client.run(os.getpid)
    left = []
    for pid in pids.values():
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            continue
        for child in children:
            try:
                command = " ".join(child.cmdline())
                if child.status() != psutil.STATUS_ZOMBIE and ("terraform" in command or "ipykernel" in command):
                    left.append(f"{child.pid} {command[:150]}")
            except psutil.Error:
                continue
    return left


@needs_terraform()
@pytest.mark.sandbox
@pytest.mark.slow
def test_ctrl_c_reaches_jobs_running_on_dask_workers(tmp_path, cluster, golden):
    """SIGINT to `runbook run --executor dask`: the jobs on the workers stop, nothing is left running, no lock is left."""
    sandbox_dir = tmp_path / "sandbox-ctrl-c"
    restore_golden(golden, "common", sandbox_dir)   # kept by the test, to read its state bucket afterwards
    env = dict(os.environ, **{server.SANDBOX_DIR_ENV: str(sandbox_dir), "RUNBOOK_PROJECT_ROOT": str(ROOT)})
    proc = subprocess.Popen([sys.executable, "-m", "runbook_lib.cli", "run", "--executor", "dask",
                             "--scheduler", cluster.scheduler_address, "--out", str(tmp_path / "runs")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 600
        while not any(" plan " in f"{line} " for line in _worker_descendants(cluster)):   # an app root is planning
            assert time.monotonic() < deadline and proc.poll() is None, "\n".join(lines)
            time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)   # the client's group only: the workers hear of it through Dask
        code = proc.wait(timeout=240)
        output = "\n".join(lines)
        # 130 when the stop came before any apply began, 3 when one had (the common root starts applied)
        assert code in (EXIT_PARTIAL, EXIT_INTERRUPTED), output
        assert "SIGINT: stopping" in output, output
        partial = Path(next(m.group(1) for m in (re.search(r"run folder (\S+\.partial)", line) for line in lines) if m))
        summary = json.loads((partial / "summary.json").read_text())
        assert summary["interrupted"] is True
        stopped = {j["label"] for j in summary["jobs"] if any(s["status"] == "interrupted" for s in j["steps"])}
        assert stopped & {"web", "worker"}, summary
        deadline = time.monotonic() + 60
        while (_worker_descendants(cluster) or _locks(sandbox_dir)) and time.monotonic() < deadline:
            time.sleep(1)
        assert _worker_descendants(cluster) == []
        assert _locks(sandbox_dir) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        server.stop(sandbox_dir)
