"""``runbook run``: bad input is refused before anything is written; a real run writes a complete folder."""

from __future__ import annotations

import functools
import json
import os
import stat

import pytest

from runbook_lib.batch import BatchError, run_batch
from runbook_lib.batch.executors import LocalProcessExecutor, SerialExecutor
from runbook_lib.batch.runner import _lines_from_workers
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
    with _lines_from_workers(lines.append) as report:
        done = sorted(LocalProcessExecutor(2).run(functools.partial(_shout, report=report), [1, 2, 3]))
    assert done == [1, 2, 3]
    assert sorted(lines) == ["job 1", "job 2", "job 3"]


def test_executors_run_every_job():
    assert sorted(SerialExecutor().run(_square, [1, 2, 3])) == [1, 4, 9]
    assert sorted(LocalProcessExecutor(2).run(_square, [1, 2, 3, 4])) == [1, 4, 9, 16]


@needs_terraform()
@pytest.mark.sandbox
def test_a_real_run_writes_notebooks_summary_and_report(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(tmp_path / "sandbox"))
    lines: list[str] = []
    run_dir, results = run_batch("parameters/org.yaml", ["parameters/apps"], jobs=2, out=str(tmp_path / "runs"),
                                 progress=lines.append)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run_dir.name]  # no .partial left
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ok"] is True
    assert sorted(j["label"] for j in summary["jobs"]) == ["common", "web", "worker"]
    for app in ("web", "worker"):
        for nb in ("02-continuous-integration", "03-continuous-deployment", "04-verify-and-operate"):
            assert (run_dir / app / f"{nb}.ipynb").is_file()
    report = (run_dir / "report.html").read_text()
    assert "every step passed" in report and "NOT healthy" not in report
    assert report.count("<svg") == 3
    assert "NOT_EMULATED" in report and "FAIL</td>" not in report
    for app in ("web", "worker"):  # each notebook is reported as it finishes, in order, by the worker
        mine = [line for line in lines if line.startswith(f"[{app}] ")]
        assert mine[0] == f"[{app}] started: 02-continuous-integration, 03-continuous-deployment, 04-verify-and-operate"
        assert [line.split(":")[0] for line in mine[1:4]] == [
            f"[{app}] 02-continuous-integration", f"[{app}] 03-continuous-deployment", f"[{app}] 04-verify-and-operate"]
        assert all(": ok (" in line for line in mine[1:4])
        assert mine[4].startswith(f"[{app}] done in ") and len(mine) == 5
    assert lines[-1].startswith("finished in ")
    assert "Kernel is running over TCP" not in capfd.readouterr().err  # kernels log errors only
    assert server.status() is None  # the run started the sandbox, so it stopped it
