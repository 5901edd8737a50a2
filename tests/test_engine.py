"""The engine's contract: settings that derive approval, typed records, one health rule for every surface."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from runbook_lib.batch.jobs import JobResult, NotebookStep, summary
from runbook_lib.batch.report import write_report
from runbook_lib.batch.runner import BatchError, declared_parameters
from runbook_lib.checks.result import CheckResult, Status
from runbook_lib.engine import Settings
from runbook_lib.errors import RecordError, RunbookError
from runbook_lib.forms import apply_form
from runbook_lib.results import SCHEMA_VERSION, CheckReport, Outcome, Record, RootResult

from .conftest import ROOT


# -- approval is derived from the target at the moment of applying ---------------------------
@pytest.mark.parametrize("target, auto_approve, unattended", [
    ("sandbox", None, True),      # the sandbox default
    ("sandbox", False, False),
    ("sandbox", True, True),
    ("live", None, False),        # never by default on live
    ("live", False, False),
    ("live", True, True),         # only when given explicitly for this run
])
def test_unattended_approval_follows_the_target(org, target, auto_approve, unattended):
    assert Settings(org, target=target, auto_approve=auto_approve).unattended is unattended


def test_a_new_target_resets_approval_to_ask(org):
    sandbox = Settings(org, target="sandbox")
    assert sandbox.unattended
    live = sandbox.changed(target="live")
    assert live.auto_approve is False and not live.unattended
    explicit = Settings(org, target="sandbox", auto_approve=True).changed(target="live")
    assert not explicit.unattended   # an approval given for the sandbox run does not carry over
    assert sandbox.changed(stage=None).unattended   # other changes keep it


def test_settings_cannot_be_changed_in_place(org):
    settings = Settings(org, target="sandbox")
    with pytest.raises(AttributeError):
        settings.target = "live"  # type: ignore[misc]


@pytest.mark.parametrize("bad, message", [
    ({"target": "prod"}, "target = 'prod' is not a known target (choose one of: live, sandbox)"),
    ({"auto_approve": "yes"}, "auto_approve = 'yes' must be True, False or None"),
])
def test_bad_settings_are_refused(org, bad, message):
    with pytest.raises(RunbookError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings(org, **bad)


def _session(org, target="sandbox", auto_approve=None):
    from runbook_lib.notebook import Session

    return Session(ROOT, "parameters/org.yaml", None, Settings(org, target=target, auto_approve=auto_approve))


FIELDS = {"name": "", "source_repository": "", "manifests_repository": "", "ecr_repository": "", "dockerfile": "",
          "helm_chart": ""}


def test_the_form_switching_to_live_resets_approval(org):
    session = _session(org)
    status = apply_form(session, "parameters/org.yaml", "parameters/apps/web.yaml", "live", None, FIELDS, "kustomize")
    assert "Valid: web" in status and "approval asks a person" in status
    assert session.settings.target == "live" and not session.settings.unattended
    assert session.app_file == "parameters/apps/web.yaml" and session.app.name == "web"


def test_the_form_refuses_an_unknown_target_and_changes_nothing(org):
    session = _session(org)
    before = session.settings
    status = apply_form(session, "parameters/org.yaml", "parameters/apps/web.yaml", "prod", None, FIELDS, "kustomize")
    assert "Not applied" in status and "target = &#x27;prod&#x27; is not a known target" in status
    assert session.settings is before and session.app_file is None


def test_the_form_refuses_bad_fields_and_changes_nothing(org):
    session = _session(org)
    before = session.settings
    status = apply_form(session, "parameters/org.yaml", "parameters/apps/web.yaml", "live", None,
                        {**FIELDS, "ecr_repository": "BAD NAME!"}, "kustomize")
    assert "problem(s)" in status and "BAD NAME!" in status
    assert session.settings is before


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("value", ["bad\x07value", "../../etc"])
def test_a_bad_value_in_any_form_field_is_refused_with_its_name_and_changes_nothing(org, field, value):
    session = _session(org)
    before = session.settings
    status = apply_form(session, "parameters/org.yaml", "parameters/apps/web.yaml", "sandbox", None,
                        {**FIELDS, field: value}, "kustomize")
    assert "problem(s)" in status and field in status, status
    assert session.settings is before


@pytest.mark.parametrize("org_file, app_file, words", [
    ("parameters/nope.yaml", "parameters/apps/web.yaml", "nope.yaml"),
    ("parameters/org.yaml", "", "choose an organization file and an application file"),
    ("parameters/org.yaml", "README.md", "README.md"),
])
def test_a_bad_file_choice_in_the_form_is_refused_and_changes_nothing(org, org_file, app_file, words):
    session = _session(org)
    before = session.settings
    status = apply_form(session, org_file, app_file, "sandbox", None, FIELDS, "kustomize")
    assert words in status and "Valid:" not in status, status
    assert session.settings is before


# -- a run over several roots says how far it got -------------------------------------------------
def test_a_stop_lists_what_was_changed_before_it():
    from runbook_lib.engine import RunStopped

    done = [RootResult("cicd-common", Outcome.NO_CHANGES, "output"), RootResult("ci/web", Outcome.APPLIED, "output")]
    stopped = RunStopped("apply stopped at step 3/3 (approve cd/web): stopped",
                         [*done, RootResult("cd/web", Outcome.STOPPED, "approve", reason="deletes")])
    assert stopped.changed and str(stopped).endswith("\nchanged before the stop: ci/web")
    untouched = RunStopped("apply stopped at step 1/3 (plan cicd-common): failed",
                           [RootResult("cicd-common", Outcome.FAILED, "plan", reason="boom")])
    assert not untouched.changed and str(untouched).endswith("\nnothing was changed in AWS")
    cut = RunStopped("apply interrupted", [RootResult("ci/web", Outcome.INTERRUPTED, "apply")], interrupted=True)
    assert cut.changed and cut.interrupted   # stopped inside apply: AWS may have changed


# -- the record: typed, versioned, one health rule ----------------------------------------------
def _check(status: Status, check_id: str = "ci.ecr.exists") -> CheckResult:
    return CheckResult(check_id, status, "ecr repository acme/web", "exists", "exists" if status is Status.PASS else "missing")


def _record(*, fail: bool = False) -> Record:
    record = Record(parameters={"org": "parameters/org.yaml", "app": "parameters/apps/web.yaml", "target": "sandbox"})
    record.roots["ci/web"] = RootResult("ci/web", Outcome.APPLIED, "output", 1.0, "ci/web: 3 to create", {"x": 1})
    record.checks["postflight ci"] = CheckReport("postflight ci", (_check(Status.FAIL if fail else Status.PASS),))
    return record


def test_a_record_reads_back_equal(tmp_path):
    record = _record(fail=True)
    record.save(tmp_path / "record.json")
    again = Record.load(tmp_path / "record.json")
    assert again == record
    assert json.loads((tmp_path / "record.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_a_record_of_an_older_schema_is_refused_clearly(tmp_path):
    old = tmp_path / "record.json"
    old.write_text(json.dumps({"parameters": {}, "plan:ci/web": {"status": "applied"}}))  # the format before version 2
    with pytest.raises(RecordError, match=r"record.json: schema_version = 1 is not the record format this runbook reads \(2\)"):
        Record.load(old)


def test_a_damaged_record_is_refused_clearly(tmp_path):
    bad = tmp_path / "record.json"
    bad.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "parameters": {}, "roots": [{"root": "x"}],
                               "checks": []}))
    with pytest.raises(RecordError, match="not a valid record"):
        Record.load(bad)
    bad.write_text("{not json")
    with pytest.raises(RecordError, match="cannot be read as a record"):
        Record.load(bad)


def test_a_notebook_started_on_an_old_record_stops_without_touching_it(tmp_path, monkeypatch):
    from runbook_lib import notebook as rb

    old = tmp_path / "record.json"
    old.write_text('{"parameters": {}}')
    with pytest.raises(RecordError, match="schema_version = 1"):
        rb.start("parameters/org.yaml", target="live", out_dir=str(tmp_path / "out"), record_file=str(old))
    assert old.read_text() == '{"parameters": {}}'


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.STOPPED, Outcome.AWAITING_APPROVAL, Outcome.INTERRUPTED])
def test_a_root_that_is_not_done_is_a_problem(outcome):
    record = _record()
    record.roots["cd/web"] = RootResult("cd/web", outcome, "apply", reason="why\nmore")
    assert record.problems() == [f"cd/web: {outcome.value} (why)"]


def _job(label: str, record: Record | None, status: str = "ok") -> JobResult:
    return JobResult(label, [NotebookStep("04-verify-and-operate", status, 1.0, f"/run/{label}/04.ipynb")], record)


def test_summary_report_and_health_agree_on_a_failed_check(tmp_path):
    """All steps ran, but one check FAILs: unhealthy in summary.json, report.html and the exit rule."""
    results = [_job("web", _record()), _job("worker", _record(fail=True))]
    assert [r.healthy for r in results] == [True, False]
    assert results[1].problems() == ["postflight ci: FAIL ci.ecr.exists"]
    for r in results:
        r.steps[0].path = str(tmp_path / r.label / "04.ipynb")
    data = write_report(tmp_path, results, "run", {})
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert data == on_disk and on_disk["healthy"] is False
    assert [(j["label"], j["healthy"]) for j in on_disk["jobs"]] == [("web", True), ("worker", False)]
    page = (tmp_path / "report.html").read_text()
    assert "NOT healthy: worker" in page and "web: <span class=\"good\">healthy" in page
    assert "postflight ci: FAIL ci.ecr.exists" in page


def test_the_report_links_each_notebook_rendered_to_html_and_says_when_one_cannot_be(tmp_path):
    import nbformat

    good = _job("web", _record())
    good.steps[0].path = str(tmp_path / "web" / "04.ipynb")
    (tmp_path / "web").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# checked")])
    nbformat.write(nb, good.steps[0].path)
    broken = _job("worker", _record())
    broken.steps[0].path = str(tmp_path / "worker" / "04.ipynb")
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "04.ipynb").write_text("{not a notebook")
    write_report(tmp_path, [good, broken], "run", {})
    page = (tmp_path / "report.html").read_text()
    assert '<a href="web/04.html">04-verify-and-operate</a>' in page
    assert "checked" in (tmp_path / "web" / "04.html").read_text()
    assert 'not rendered: ' in page and '<a href="worker/04.ipynb">.ipynb</a>' in page
    assert not (tmp_path / "worker" / "04.html").exists()


def test_a_job_without_a_record_or_with_a_crashed_worker_is_unhealthy():
    assert _job("web", None).problems() == ["no record was written"]
    crashed = JobResult("web", error="the worker running web failed: BrokenProcessPool: gone")
    assert not crashed.healthy and "BrokenProcessPool" in crashed.problems()[0]
    assert summary([crashed])["healthy"] is False
    assert summary([_job("web", _record())], interrupted=True)["healthy"] is False


# -- the parameters a notebook accepts come from its own parameters cell ------------------------
def test_declared_parameters_are_read_from_the_notebook():
    declared = declared_parameters(ROOT / "notebooks" / "03-continuous-deployment.ipynb", {"org_file"})
    assert {"org_file", "app_file", "stage", "auto_approve", "record_file"} <= declared
    assert "stage" not in declared_parameters(ROOT / "notebooks" / "02-continuous-integration.ipynb", {"org_file"})


def test_a_notebook_without_a_parameters_cell_is_refused(tmp_path):
    source = nbformat.read(ROOT / "notebooks" / "02-continuous-integration.ipynb", as_version=4)
    for cell in source.cells:
        cell.metadata.pop("tags", None)
    untagged = tmp_path / "02.ipynb"
    nbformat.write(source, untagged)
    with pytest.raises(BatchError, match="has no cell tagged 'parameters'"):
        declared_parameters(untagged, {"org_file", "record_file"})
    with pytest.raises(BatchError, match="does not declare record_file"):
        declared_parameters(_without(tmp_path, "record_file"), {"org_file", "record_file"})


def _without(tmp_path: Path, name: str) -> Path:
    source = nbformat.read(ROOT / "notebooks" / "02-continuous-integration.ipynb", as_version=4)
    for cell in source.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = "\n".join(line for line in cell.source.splitlines() if not line.startswith(name))
    path = tmp_path / f"without-{name}.ipynb"
    nbformat.write(source, path)
    return path


@pytest.mark.parametrize("status", ["failed", "timeout", "interrupted"])
def test_a_notebook_that_failed_timed_out_or_was_interrupted_makes_its_job_unhealthy(status):
    """Whatever its record says, a job one of whose notebooks did not end ``ok`` is unhealthy, and says which."""
    job = _job("web", _record(), status=status)
    assert not job.healthy
    assert job.problems() == [f"04-verify-and-operate: {status}"]
    assert summary([job])["healthy"] is False
    assert _job("web", _record()).healthy   # the same job with the notebook ok is healthy
