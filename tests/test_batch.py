"""``runbook run``: bad input is refused before anything is written; a real run writes a complete folder."""

from __future__ import annotations

import functools
import json
import re
import os
import stat

import pytest

from runbook_lib.batch import BatchError, run_batch
from runbook_lib.batch.executors import LocalProcessExecutor, SerialExecutor
from runbook_lib.cli import main
from runbook_lib.errors import ParameterError
from runbook_lib.sandbox import server

from .conftest import ROOT, needs_terraform

WEB = "parameters/apps/web.yaml"


def test_an_app_listed_twice_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ParameterError, match="listed twice"):
        run_batch("parameters/org.yaml", [WEB, str(ROOT / WEB)], out=str(tmp_path / "runs"))
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_unknown_stage_is_refused(tmp_path):
    with pytest.raises(BatchError, match="'qa' is not a stage of every application"):
        run_batch("parameters/org.yaml", ["parameters/apps"], stage="qa", out=str(tmp_path / "runs"))
    assert not any((tmp_path / "runs").iterdir()) if (tmp_path / "runs").exists() else True


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_output_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IREAD | stat.S_IEXEC)
    with pytest.raises(BatchError, match="not writable"):
        run_batch("parameters/org.yaml", [WEB], out=str(locked / "runs"))


def test_an_output_folder_that_is_a_file_is_refused(tmp_path, capsys):
    blocker = tmp_path / "runs"
    blocker.write_text("not a folder")
    code = main(["run", "--apps", WEB, "--out", str(blocker)])
    assert code == 2
    assert "cannot be created or written" in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"


def test_bad_parameters_and_bad_jobs_are_clear_errors(tmp_path, capsys):
    assert main(["run", "--apps", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "runs")]) == 2
    assert "missing.yaml: does not exist" in capsys.readouterr().err
    assert main(["run", "--apps", WEB, "--jobs", "0", "--out", str(tmp_path / "runs")]) == 2
    assert "--jobs 0 must be 1 or more" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def _square(n: int) -> int:
    return n * n


def _shout(n: int, report) -> int:
    report(f"job {n}")
    return n


def test_lines_reported_in_worker_processes_reach_the_parent():
    lines: list[str] = []
    executor = LocalProcessExecutor(2)
    with executor.lines(lines.append) as report:
        done = sorted(result for _job, result, _error in executor.run(
            functools.partial(_shout, report=report), [1, 2, 3]))
    assert done == [1, 2, 3]
    assert sorted(lines) == ["job 1", "job 2", "job 3"]


def _crash_on_two(n: int) -> int:
    if n == 2:
        os._exit(3)   # a worker dying mid-job, as with an out-of-memory kill
    return n


def test_a_crashed_worker_is_reported_for_its_job_and_every_job_is_accounted_for():
    seen = list(LocalProcessExecutor(2).run(_crash_on_two, [1, 2, 3]))
    assert sorted(job for job, _result, _error in seen) == [1, 2, 3]   # each job reported once, none lost
    errors = {job: error for job, _result, error in seen if error}
    assert "BrokenProcessPool" in errors[2]   # the crashed job says why; no exception escapes the run


def test_executors_run_every_job():
    assert sorted(SerialExecutor().run(_square, [1, 2, 3])) == [(1, 1, None), (2, 4, None), (3, 9, None)]
    assert sorted(LocalProcessExecutor(2).run(_square, [1, 2, 3, 4])) == [(n, n * n, None) for n in (1, 2, 3, 4)]


@needs_terraform()
@pytest.mark.sandbox
def test_a_real_run_writes_notebooks_summary_and_report(batch_run, suite_sandbox):
    code, lines, run_dir, deleted = batch_run
    assert deleted == ["acme/worker-base"]
    assert not run_dir.name.endswith(".partial")  # complete, renamed
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["schema_version"] == 2 and summary["interrupted"] is False
    assert sorted(j["label"] for j in summary["jobs"]) == ["common", "web", "worker"]
    for app in ("web", "worker"):
        for nb in ("02-continuous-integration", "03-continuous-deployment", "04-verify-and-operate"):
            assert (run_dir / app / f"{nb}.ipynb").is_file()
    report = (run_dir / "report.html").read_text()
    assert report.count("<svg") == 3
    assert "NOT_EMULATED" not in report   # the sandbox emulates what the checks read
    # each executed notebook is linked as a page rendered beside it, not as .ipynb JSON
    pages = re.findall(r'<a href="([^"]+\.html)">0\d-', report)
    assert len(pages) == 2 + 3 * 2 and all((run_dir / page).is_file() for page in pages)
    assert "jp-Notebook" in (run_dir / pages[-1]).read_text()
    for app in ("web", "worker"):  # each notebook is reported as it finishes, in order, by the worker
        mine = [line for line in lines if line.startswith(f"[{app}] ")]
        assert mine[0] == f"[{app}] started: 02-continuous-integration, 03-continuous-deployment, 04-verify-and-operate"
        assert [line.split(":")[0] for line in mine[1:4]] == [
            f"[{app}] 02-continuous-integration", f"[{app}] 03-continuous-deployment", f"[{app}] 04-verify-and-operate"]
    assert [line for line in lines if line.startswith("finished after ")]
    assert server.status() == suite_sandbox  # the run did not start this sandbox, so it left it running


@needs_terraform()
@pytest.mark.sandbox
def test_a_failed_check_makes_the_app_unhealthy_in_summary_report_and_exit_code(batch_run):
    code, lines, run_dir, _ = batch_run
    assert code == 1
    summary = json.loads((run_dir / "summary.json").read_text())
    jobs = {j["label"]: j for j in summary["jobs"]}
    assert summary["healthy"] is False
    assert jobs["common"]["healthy"] and jobs["web"]["healthy"], (jobs["common"]["problems"], jobs["web"]["problems"])
    assert not jobs["worker"]["healthy"]
    assert "postflight common+ci+cd: FAIL ci.ecr.exists" in jobs["worker"]["problems"]
    record = jobs["worker"]["record"]
    assert [r["outcome"] for r in record["roots"]] == ["applied", "applied"]   # ci and cd were applied
    [postflight] = [c for c in record["checks"] if c["title"] == "postflight common+ci+cd"]
    failed = [r for r in postflight["results"] if r["status"] == "FAIL"]
    assert [r["id"] for r in failed] == ["ci.ecr.exists"]   # exactly the deleted repository, nothing else
    assert failed[0]["found"] == "missing: acme/worker-base" and "Apply the CI root" in failed[0]["remedy"]
    report = (run_dir / "report.html").read_text()
    assert "NOT healthy: worker" in report and "postflight common+ci+cd: FAIL ci.ecr.exists" in report
    assert "NOT healthy: worker: postflight common+ci+cd: FAIL ci.ecr.exists" in lines
    assert not [line for line in lines if line.startswith("NOT healthy: web") or line.startswith("NOT healthy: common")]
