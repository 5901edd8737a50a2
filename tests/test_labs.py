"""Training labs: every lab in the catalog, for real, in a sandbox of this module's own.

The sandbox starts from the run's applied snapshot (both example apps applied by real
Terraform with thoughtbot's modules, see ``golden`` in conftest), restored before each lab.
Then, lab by lab, in the order of the catalog: ``runbook lab start`` injects the fault,
exactly the lab's checks FAIL, a second start and doing nothing are refused, hints come
one at a time. Then:

- labs fixed by hand-run steps or one of each kind of Terraform fix (REAL_FIXES: a CI
  apply, the import lab, a CD apply): the trainee's documented fix (the runbook's own
  commands) makes ``runbook lab check`` pass; the lab is started again and ``runbook lab
  reset`` must bring back the applied state (for the labs reset by an apply, once: the
  import lab, after its tempting destructive "fix" (delete, then apply) is graded as a
  failure);
- the other labs, whose fix is an apply like the ones above: the fault must show in a
  Terraform plan of the root the fix applies (changes pending), and once the applied
  state is back, ``runbook lab check`` passes with the grade.

A new lab in the catalog is covered here without a new test.

Bad input (an unknown lab, the live target, no sandbox, no --app, no suite applied yet)
is refused with one line, no traceback, and nothing changed.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from pathlib import Path

import botocore.session
import pytest
from rich.console import Console

from runbook_lib import cli
from runbook_lib.engine import COMMON_ROOT, Engine, Settings
from runbook_lib.labs import LABS, progress
from runbook_lib.labs import identities
from runbook_lib.labs.catalog import SECTIONS
from runbook_lib.labs.context import Where, open_context
from runbook_lib.labs.grading import STILL_THERE, failing_checks
from runbook_lib.labs.injectors import INJECTORS, PROBES, WRONG_FIXES
from runbook_lib.labs.report import html_page
from runbook_lib.labs.restore import STEPS
from runbook_lib.results import DONE, Outcome
from runbook_lib.sandbox import server

from .conftest import ROOT, needs_terraform
from .tiers import starts

WEB = "parameters/apps/web.yaml"
APPLIED = "applied"
# Labs run through their documented fix and a reset for real: every fix that is not a Terraform apply, and one
# apply of each kind (a CI root, the import lab with its destructive "fix", a CD root). The others' fix is
# an apply like these: their fault is shown in a plan instead (fault_shows_in_a_plan_then_the_applied_state_passes).
REAL_FIXES = {"connection-pending", "token-parameter-missing", "state-lock", "hand-edited",
              "webhook-deleted", "outside-state", "pipeline-wrong-branch"}
# `runbook lab reset` by an apply is shown once, by the import lab (after its destructive "fix"); these two
# labs, reset the same way, stop after their graded pass.
RESET_BY_THE_IMPORT_LAB = {"webhook-deleted", "pipeline-wrong-branch"}
ORG = "parameters/org.yaml"
COMMON = COMMON_ROOT


def run(*argv: str) -> tuple[int, str, str]:
    """``runbook ARGV`` in this process, as the CLI runs it: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    saved = cli.console, cli.err_console
    cli.console = Console(file=out, width=400, highlight=False, markup=False, soft_wrap=True)
    cli.err_console = Console(file=err, width=400, highlight=False, markup=False, soft_wrap=True)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = cli.main(list(argv))
    finally:
        os.chdir(cwd)
        cli.console, cli.err_console = saved
    return code, out.getvalue(), err.getvalue()


def refused(code: int, err: str, *words: str) -> None:
    assert code == cli.EXIT_ERROR, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err


# -- the catalog, as data --------------------------------------------------------------------
def test_the_catalog_holds_eleven_labs_each_complete_and_mapped_to_a_guide_section():
    assert len(LABS) >= 11 and len({lab.name for lab in LABS}) == len(LABS)
    for lab in LABS:
        assert lab.section in SECTIONS
        assert lab.injector in INJECTORS and lab.injector in PROBES
        assert lab.restore and all(step in STEPS for step in lab.restore)
        assert not lab.wrong_fix or lab.wrong_fix in WRONG_FIXES
        assert len(lab.hints) >= 2 and lab.fixes and lab.found_with
        for reveal in lab.reveals:   # the symptom is what a colleague sees, never the check that finds it
            assert reveal.split("{")[0].rstrip(".") not in lab.symptom
    assert {lab.section for lab in LABS} == set(SECTIONS)


def test_notebook_05s_stored_outputs_name_every_lab_in_the_catalog():
    """nbval compares 05's stored outputs, which list the catalog: a lab added without re-recording them fails here,
    in the fast tier, instead of twenty minutes into the suite (the README's Notebooks section says how)."""
    import nbformat

    notebook = nbformat.read(ROOT / "notebooks" / "05-troubleshooting-labs.ipynb", as_version=4)
    shown = "".join(str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
                    for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", []))
    assert [lab.name for lab in LABS if lab.name not in shown] == []


def test_bare_runbook_lab_still_means_jupyterlab():
    parser = cli.build_parser()
    assert parser.parse_args(["lab"]).func is cli.cmd_lab
    assert parser.parse_args(["lab", "--port", "9999"]).port == 9999
    assert parser.parse_args(["lab", "start", "state-lock", "--app", WEB]).func is cli.cmd_lab_start


# -- bad input, before any sandbox ----------------------------------------------------------
@pytest.fixture
def no_aws(monkeypatch):
    """Any botocore client made from here on fails the test: nothing may reach an AWS API."""
    made = []

    def refuse(self, *args, **kwargs):
        made.append(args)
        raise AssertionError(f"an AWS client was created: {args}")

    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)
    return made


def test_an_unknown_lab_is_refused(tmp_path, no_aws):
    code, _, err = run("lab", "start", "no-such-lab", "--app", WEB, "--out", str(tmp_path))
    refused(code, err, "lab 'no-such-lab' is not a lab", "state-lock")
    assert not list(tmp_path.iterdir()) and not no_aws


@pytest.mark.parametrize("action", ["start", "hint", "check", "reset"])
def test_the_live_target_is_refused_before_any_aws_call(tmp_path, no_aws, action):
    extra = ["state-lock"] if action == "start" else []
    code, _, err = run("lab", action, *extra, "--app", WEB, "--target", "live", "--out", str(tmp_path))
    refused(code, err, "--target live", "only against the sandbox")
    assert not no_aws and not list(tmp_path.iterdir())


def test_a_sandbox_that_is_not_running_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(server.SANDBOX_DIR_ENV, str(tmp_path / "no-sandbox"))
    code, _, err = run("lab", "start", "webhook-deleted", "--app", WEB, "--out", str(tmp_path / "out"))
    refused(code, err, "the sandbox is not running")
    assert not (tmp_path / "out").exists()


def test_a_lab_without_app_and_a_hint_without_an_open_lab_are_refused(tmp_path):
    code, _, err = run("lab", "start", "webhook-deleted", "--out", str(tmp_path))
    refused(code, err, "labs need --app")
    code, _, err = run("lab", "hint", "--app", WEB, "--out", str(tmp_path))
    refused(code, err, "no lab is open")
    assert not list(tmp_path.iterdir())


def test_a_damaged_progress_file_is_refused_and_left_alone(tmp_path):
    path = progress.progress_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    code, _, err = run("lab", "hint", "--app", WEB, "--out", str(tmp_path))
    refused(code, err, str(path), "not a progress file")
    assert path.read_text() == "{not json"


def test_progress_is_written_atomically_and_the_report_escapes_everything(tmp_path):
    state = progress.Progress(trainee="<script>alert(1)</script>")
    state.finished.append(progress.Finished("hand-edited", "passed", 1, 300.0, 2, time.time(),
                                            {"edited": "infra/<b>x</b>.tf"}))
    state.finished.append(progress.Finished("state-lock", "reset", 3, 60.0, 1, time.time(), {}))
    progress.save(tmp_path, state)
    again = progress.load(tmp_path)
    assert again == state
    assert [p.name for p in progress.progress_file(tmp_path).parent.iterdir()] == ["progress.json"]  # no temp left
    code, out, _ = run("lab", "report", "--out", str(tmp_path))
    assert code == 0
    page = progress.report_file(tmp_path).read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "infra/&lt;b&gt;x&lt;/b&gt;.tf" in page
    assert "src=" not in page and "<link" not in page    # self-contained
    assert f"1 of {len(LABS)} labs passed" in page
    for lab in LABS:
        assert lab.name in page and lab.section in page
    html_page(progress.Progress())   # an empty progress renders too
    named = html_page(progress.Progress(trainee="team=platform,name=jane/doe&co"))   # the page title holds text only
    assert "<title>Training labs: team=platform,name=jane/doe&amp;co</title>" in named


# -- the sandbox of this module (its tests stay together on one xdist worker) -------------------
@pytest.fixture(scope="module")
@starts("the sandbox")
def sandbox(tmp_path_factory):
    directory = tmp_path_factory.mktemp("labs-sandbox")
    saved = os.environ.get(server.SANDBOX_DIR_ENV)
    os.environ[server.SANDBOX_DIR_ENV] = str(directory)
    running = server.start(directory=directory)
    yield running
    server.stop(directory)
    if saved is None:
        os.environ.pop(server.SANDBOX_DIR_ENV, None)
    else:
        os.environ[server.SANDBOX_DIR_ENV] = saved


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("labs-out")


def where(out: Path) -> Where:
    return Where(ORG, WEB, "sandbox", str(out))


def flags(out: Path) -> list[str]:
    return ["--org", ORG, "--app", WEB, "--target", "sandbox", "--out", str(out)]


def engine(org, app, out: Path) -> Engine:
    return Engine(Settings(org, app, target="sandbox", out=out, auto_approve=True), sink=lambda _line: None)


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("labs")
def test_a_lab_before_the_suite_is_applied_is_refused(sandbox, out, org):
    code, _, err = run("lab", "start", "webhook-deleted", *flags(out))
    refused(code, err, "the suite is not applied for web", "runbook apply")
    assert not progress.progress_file(out).exists()


@pytest.fixture(scope="module")
def applied(sandbox, golden, out, org, apps):
    """The suite applied for web and worker, and the handshake done: the state every lab starts from."""
    directory = Path(os.environ[server.SANDBOX_DIR_ENV])
    target = server.snapshot_file(APPLIED, directory)
    target.parent.mkdir(mode=0o700, exist_ok=True)
    shutil.copy(golden / target.name, target)
    server.load_snapshot(APPLIED, directory)
    with_cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        engine(org, apps["web"], out).prepare()   # the suite's files, rendered as `runbook apply` leaves them
    finally:
        os.chdir(with_cwd)
    ctx = open_context(where(out))
    assert failing_checks(ctx) == {}
    return ctx


def trainee_fix(lab, ctx, out: Path, org, app) -> list[str]:
    """What a trainee types, step by step, for the lab's documented fix; returns what each printed."""
    said = []
    for step in lab.restore:
        if step == "handshake":
            code, text, err = run("sandbox", "complete-handshake", "--org", ORG)
        elif step == "seed":
            code, text, err = run("sandbox", "start", "--org", ORG)
        elif step == "render":
            code, text, err = run("render", *flags(out))       # refused: shows the diff of the hand edit
            assert code == cli.EXIT_ERROR and "changed by hand" in err and "quick_fix" in err, err
            code, text, err = run("render", *flags(out), "--force")
        elif step == "unlock":
            stopped = engine(org, app, out).run_root("ci")     # what `runbook apply` meets at the CI root
            found = re.search(r"runbook unlock (\S+) ([0-9a-f-]{36})", stopped.reason)
            assert found, stopped.reason
            code, text, err = run("unlock", found.group(1), found.group(2), *flags(out))
        else:   # apply:ROOT: the root's part of `runbook apply` (init, plan, gate, apply), as the CLI runs it
            result = engine(org, app, out).run_root(step.split(":")[1])
            assert result.outcome in DONE, result.reason
            code, text, err = 0, f"{result.root}: {result.outcome.value} {result.reason}", ""
        assert code == 0, err
        said.append(text)
    return said


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("labs")
@needs_terraform()
@pytest.mark.parametrize("lab", LABS, ids=[lab.name for lab in LABS])
def test_a_lab_is_found_by_its_checks_fixed_by_the_runbook_and_reset(lab, applied, out, org, apps):
    ctx = applied
    server.load_snapshot(APPLIED)   # every lab starts from the applied state, whatever the one before left
    baseline = identities.snapshot(ctx)
    code, text, err = run("lab", "start", lab.name, *flags(out))
    assert code == 0, err
    assert "lab injector: one fault was put into the sandbox" in text
    opened = progress.load(out).open
    assert opened.lab == lab.name and opened.baseline == baseline
    symptom = lab.text(lab.symptom, opened.names)
    assert symptom in text
    assert all(reveal not in text for reveal in opened.reveals)   # the symptom, never the check that finds it

    # exactly the lab's checks fail (labs found by apply, validate or render fail none)
    assert set(failing_checks(ctx)) == set(opened.reveals)
    assert PROBES[lab.injector](ctx, opened.details)

    # one lab at a time
    other = next(o for o in LABS if o.name != lab.name)
    code, _, err = run("lab", "start", other.name, *flags(out))
    refused(code, err, f"lab {lab.name!r} is still open")

    # hints, one more each time
    first, second = run("lab", "hint", *flags(out))[1], run("lab", "hint", *flags(out))[1]
    assert "Hint 1/" in first and "Hint 2/" in second and first != second
    assert progress.load(out).open.hints == 2

    # doing nothing does not pass
    code, text, _ = run("lab", "check", *flags(out))
    assert code == cli.EXIT_FINDINGS and STILL_THERE in text

    if lab.name not in REAL_FIXES:
        fault_shows_in_a_plan_then_the_applied_state_passes(lab, ctx, out, org, apps, baseline)
        return

    # the documented fix, with the runbook's own commands, passes
    said = trainee_fix(lab, ctx, out, org, apps["web"])
    if lab.name == "outside-state":
        assert "imported 1 resource(s)" in said[-1], said
    code, text, _ = run("lab", "check", *flags(out))
    assert code == 0, text
    assert f"PASSED {lab.name}: 2 hint(s)" in text
    state = progress.load(out)
    assert state.open is None and state.finished[-1].lab == lab.name and state.finished[-1].outcome == "passed"
    assert state.finished[-1].checks == 2
    assert failing_checks(ctx) == {} and identities.differences(baseline, identities.snapshot(ctx), lab.may_replace) == []

    if lab.name in RESET_BY_THE_IMPORT_LAB:
        return
    # started again, then reset: back to the applied state, the lab closed as reset
    assert run("lab", "start", lab.name, *flags(out))[0] == 0
    opened = progress.load(out).open
    if lab.wrong_fix:   # delete what holds the fault, then apply: every check passes, but the grade does not
        WRONG_FIXES[lab.wrong_fix](ctx, opened.details)
        trainee_fix(lab, ctx, out, org, apps["web"])
        assert failing_checks(ctx) == {}
        code, text, _ = run("lab", "check", *flags(out))
        assert code == cli.EXIT_FINDINGS and "was deleted and created again" in text, text
        assert STILL_THERE not in text
    code, text, err = run("lab", "reset", *flags(out))
    assert code == 0, err
    assert "restored:" in text and progress.load(out).open is None
    assert progress.load(out).finished[-1].outcome == "reset"
    assert failing_checks(ctx) == {}
    assert not PROBES[lab.injector](ctx, opened.details)
    if not lab.wrong_fix:
        assert identities.differences(baseline, identities.snapshot(ctx), lab.may_replace) == []


def fault_shows_in_a_plan_then_the_applied_state_passes(lab, ctx, out: Path, org, apps, baseline) -> None:
    """For a lab whose fix is an apply: Terraform's plan of that root wants changes; the applied state grades PASSED.

    The common root's labs are planned together, once (test_the_common_root_labs_faults_show_in_one_plan):
    a plan of that root costs three times an application root's.
    """
    [step] = lab.restore
    root = step.split(":")[1]
    if root != COMMON:
        planned = Engine(Settings(org, apps["web"], target="sandbox", out=out, auto_approve=False),
                         sink=lambda _line: None).run_root(root)
        assert planned.outcome is Outcome.AWAITING_APPROVAL, (planned.outcome, planned.reason, planned.headline)
    server.load_snapshot(APPLIED)   # what the documented apply brings back
    code, text, _ = run("lab", "check", *flags(out))
    assert code == 0, text
    assert f"PASSED {lab.name}: 2 hint(s)" in text
    state = progress.load(out)
    assert state.open is None and state.finished[-1].lab == lab.name and state.finished[-1].outcome == "passed"
    assert failing_checks(ctx) == {} and identities.differences(baseline, identities.snapshot(ctx), lab.may_replace) == []


# Where each common-root lab's fault shows in the plan of that root: an address fragment, from the lab's details.
PLANNED_AT = {
    "source_credential_deleted": lambda d, module: "aws_codebuild_source_credential.",
    "trust_wrong_account": lambda d, module: f"module.{module(d['cluster'])}.aws_iam_role.",
    "trust_without_condition": lambda d, module: f"module.{module(d['cluster'])}.aws_iam_role.",
    "cluster_access_removed": lambda d, module: f"aws_eks_access_entry.{module(d['cluster'])}",
}


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("labs")
@needs_terraform()
def test_the_common_root_labs_faults_show_in_one_plan(applied, out, org, apps):
    """Every lab fixed by applying the common root (not by a real fix above), its fault injected at once: one plan
    of that root wants a change where each fault is. A new such lab needs its place in PLANNED_AT."""
    ctx = applied
    server.load_snapshot(APPLIED)
    labs = [lab for lab in LABS if lab.restore == (f"apply:{COMMON}",) and lab.name not in REAL_FIXES]
    assert len(labs) >= 3 and all(lab.injector in PLANNED_AT for lab in labs), [lab.injector for lab in labs]
    details = {lab.injector: INJECTORS[lab.injector](ctx) for lab in labs}
    modules = {t.cluster: t.module_name for t in ctx.resolved.deploy_targets}
    try:
        planned = Engine(Settings(org, apps["web"], target="sandbox", out=out, auto_approve=False),
                         sink=lambda _line: None).run_root(COMMON)
        assert planned.outcome is Outcome.AWAITING_APPROVAL, (planned.outcome, planned.reason, planned.headline)
        addresses = [change.address for change in planned.plan.changes]
        for injector, found in details.items():
            fragment = PLANNED_AT[injector](found, modules.__getitem__)
            assert any(fragment in address for address in addresses), (injector, fragment, addresses)
    finally:
        server.load_snapshot(APPLIED)


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.xdist_group("labs")
@needs_terraform()
def test_after_every_lab_the_report_shows_them_and_the_roots_plan_empty(applied, out, org, apps):
    code, text, _ = run("lab", "report", "--out", str(out))
    page = progress.report_file(out).read_text()
    assert code == 0 and f"{len(LABS)} of {len(LABS)} labs passed" in page
    eng = engine(org, apps["web"], out)
    for root in ("ci", "cd"):   # every fault in them was repaired or reset: Terraform finds nothing to change
        result = eng.run_root(root)
        assert result.outcome is Outcome.NO_CHANGES, (result.reason, result.headline)
