"""Notebooks: headless runs with the plain papermill CLI, clear errors, and nbval that can fail."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from .conftest import ROOT, needs_terraform

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*-*.ipynb"))
SANITIZE = ROOT / "notebooks" / "nbval-sanitize.cfg"
PAPERMILL = [sys.executable, "-m", "papermill"]


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ, RUNBOOK_PROJECT_ROOT=str(ROOT))
    return env


def _errors(nb_path: Path) -> list[dict]:
    nb = nbformat.read(nb_path, as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def _text(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@needs_terraform()
@pytest.mark.sandbox
def test_the_plain_papermill_cli_runs_the_notebooks_with_a_parameters_file(suite_sandbox, batch_run, tmp_path):
    """The papermill CLI as the README shows it, for worker, in the suite's sandbox: 02, 04 and 05.

    The batch left worker's base-image repository deleted (its 04 failed on purpose), so 02
    plans it back and applies it (automatic in the sandbox), and 04 then passes. Every
    notebook already ran under nbval (00-04, from a fresh sandbox) and in the batch (01-04,
    through papermill's Python API); what only this test shows is papermill's own command
    line, with ``-f`` and ``-p``, on the committed files.
    """
    params = tmp_path / "params.yaml"
    params.write_text(f"out_dir: {tmp_path / 'out'}\ntarget: sandbox\napp_file: parameters/apps/worker.yaml\n")
    env = dict(_env(tmp_path), RUNBOOK_SANDBOX_DIR=os.environ["RUNBOOK_SANDBOX_DIR"])
    for notebook in [nb for nb in NOTEBOOKS if nb.name[:2] in ("02", "04", "05")]:
        executed = tmp_path / notebook.name
        command = [*PAPERMILL, str(notebook), str(executed), "--cwd", str(tmp_path)]
        # each notebook gets what its parameters cell declares (papermill warns about the rest)
        command += ["-f", str(params)] if notebook.name >= "02" else ["-p", "out_dir", str(tmp_path / "out")]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, (notebook.name, proc.stderr[-3000:])
        assert not _errors(executed)
    assert "ci/worker: applied (ci/worker: 1 to create" in _text(tmp_path / "02-continuous-integration.ipynb")
    final = _text(tmp_path / "04-verify-and-operate.ipynb")
    assert re.search(r"postflight common\+ci\+cd: \d+ PASS\n", final), final[-2000:]
    labs = nbformat.read(tmp_path / "05-troubleshooting-labs.ipynb", as_version=4)   # headless: listed, none started
    listed = "".join(o.get("data", {}).get("text/plain", "") for c in labs.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))
    assert "webhook-deleted" in listed and not (tmp_path / "out" / "labs").exists()


def test_bad_parameters_stop_at_the_first_cell_with_the_problems_not_a_traceback(tmp_path):
    bad = tmp_path / "org.yaml"
    bad.write_text((ROOT / "parameters" / "org.yaml").read_text().replace('id: "111111111111"', 'id: "1111"'))
    executed = tmp_path / "out.ipynb"
    proc = subprocess.run(
        [*PAPERMILL, str(NOTEBOOKS[0]), str(executed), "-p", "org_file", str(bad), "-p", "out_dir", str(tmp_path / "out")],
        capture_output=True, text=True, env=_env(tmp_path), timeout=600,
    )
    assert proc.returncode != 0
    [error] = _errors(executed)
    shown = "\n".join(error["traceback"])
    assert "accounts.operations.id = '1111' is not an AWS account id" in shown
    assert "Traceback" not in shown and 'File "' not in shown
    assert not (tmp_path / "out").exists()


def test_failed_checks_stop_the_notebook_with_one_line_not_a_traceback(tmp_path):
    """The last cell of 00 and 04 when checks FAIL: the run stops (papermill exits non-zero) with the reason only."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("from runbook_lib import notebook as rb\n"
                                          "rb.stop_unless(True, 'not shown')\n"
                                          "rb.stop_unless(False, 'some checks failed: see the remedies above')"),
                nbformat.v4.new_code_cell("print('after')")]
    source, executed = tmp_path / "checks.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, source)
    proc = subprocess.run([*PAPERMILL, str(source), str(executed)], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=300)
    assert proc.returncode != 0
    [error] = _errors(executed)
    assert error["traceback"] == ["ChecksFailed: some checks failed: see the remedies above"]
    assert "after" not in _text(executed)
    for name in ("00-prerequisites-and-preflight.ipynb", "04-verify-and-operate.ipynb"):   # both use it
        cells = nbformat.read(ROOT / "notebooks" / name, as_version=4).cells
        assert any("rb.stop_unless(rb." in c.source for c in cells) and not any("assert " in c.source for c in cells)


def _nbval(notebook: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", "--nbval-sanitize-with", str(SANITIZE),
         "-q", "-rN", "-o", "addopts=", str(notebook)],
        capture_output=True, text=True, cwd=cwd, env=dict(os.environ, RUNBOOK_PROJECT_ROOT=str(ROOT)), timeout=600,
    )


@needs_terraform()
def test_nbval_compares_cells_and_fails_when_an_output_changes(tmp_path):
    source = ROOT / "tests" / "fixtures" / "notebooks" / "render-common-live.ipynb"
    nb = json.loads(source.read_text())
    compared = [c for c in nb["cells"] if c["cell_type"] == "code" and c.get("outputs")]
    assert len(compared) >= 4, "the committed notebook must keep its outputs, or nbval checks nothing"

    unchanged = _nbval(source, tmp_path)
    assert unchanged.returncode == 0, unchanged.stdout[-2000:]
    assert f"{len(nb['cells']) - sum(c['cell_type'] == 'markdown' for c in nb['cells'])} passed" in unchanged.stdout

    changed = tmp_path / "01-changed.ipynb"
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if "acme-cicd-artifacts" in "".join(output.get("text", [])):
                output["text"] = [t.replace("acme-cicd-artifacts", "acme-other-bucket") for t in output["text"]]
    changed.write_text(json.dumps(nb))
    proc = _nbval(changed, tmp_path)
    assert proc.returncode != 0
    assert "acme-other-bucket" in proc.stdout


def _run_cells(cells: list[str], env: dict) -> list[dict]:
    """Execute code cells in a real kernel (as a frontend would) and return their outputs."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    old = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return [o for c in nb.cells for o in c.outputs]


FORM_CELLS = [
    "from runbook_lib import notebook as rb",
    'session = rb.start("parameters/org.yaml", "parameters/apps/web.yaml", target="live", out_dir="build/form-test")',
    "rb.form(session)",
]


@pytest.mark.kernel
def test_opened_in_jupyter_the_notebook_shows_the_form():
    outputs = _run_cells(FORM_CELLS, {"JPY_SESSION_NAME": "notebooks/02-continuous-integration.ipynb",
                                      "RUNBOOK_PROJECT_ROOT": str(ROOT)})
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1
    # where the widget cannot be drawn (a saved page, a closed kernel) its text says what it is, not VBox(...)
    assert views[0]["data"]["text/plain"].startswith("Parameter form: Organization file, Application file")


@pytest.mark.kernel
def test_headless_the_form_is_not_shown_and_nothing_waits():
    """Headless, the form cell shows nothing: its stored output is what a person opening the notebook sees."""
    outputs = _run_cells(FORM_CELLS, {"JPY_SESSION_NAME": "", "RUNBOOK_PROJECT_ROOT": str(ROOT)})
    assert not [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert not any("Headless" in o.get("text", "") or "Headless" in str(o.get("data", "")) for o in outputs)
    assert len(outputs) == 4   # the four lines of rb.start; nothing from rb.form


@needs_terraform()
@pytest.mark.sandbox
def test_a_form_switched_to_live_asks_before_applying_and_the_button_applies_the_shown_plan(
        suite_sandbox, suite_aws, batch_run, tmp_path):
    """Start in the sandbox (approval automatic there), switch the form to live, plan: nothing is applied.

    The plan has something to do because acme/web-base is deleted first. The "live" target in
    this kernel is a labelled stand-in aimed at the sandbox (no real account here): the
    approval rules see target "live", while Terraform plans and applies in the emulator.
    """
    ecr = suite_aws.client("ecr", "111111111111")
    ecr.delete_repository(repositoryName="acme/web-base")
    record = tmp_path / "record.json"
    cells = [
        "from runbook_lib import notebook as rb, engine",
        "from runbook_lib.sandbox.target import SandboxTarget",
        "engine.make_target = lambda name, **kw: SandboxTarget()  # STAND-IN: 'live' aimed at the sandbox",
        f'session = rb.start("parameters/org.yaml", "parameters/apps/web.yaml", target="sandbox", '
        f'out_dir="{tmp_path / "out"}", record_file="{record}")',
        "form = rb.form(session)",
        "target = [w for w in form.children if getattr(w, 'description', '') == 'Target'][0]\n"
        "target.value = 'live'\n"
        "[w for w in form.children if getattr(w, 'description', '') == 'Validate'][0].click()\n"
        "print('settings:', session.settings.target, session.settings.unattended)",
        "rb.render(session)",
        'box = rb.plan_and_apply(session, "ci")\nbox',
        'print("outcome:", session.record.roots["ci/web"].outcome.value)',
        "from runbook_lib.sandbox import server\n"
        "from runbook_lib.sandbox.clients import SandboxSessions\n"
        "ecr = SandboxSessions(server.require_running().url, session.org.region, session.org.terraform_role_name)"
        ".client('ecr', session.org.accounts.operations.id)\n"
        "print('before approve:', [r['repositoryName'] for r in ecr.describe_repositories()['repositories']])",
        "box.children[0].click()",
        'print("after:", session.record.roots["ci/web"].outcome.value)',
    ]
    env = {"JPY_SESSION_NAME": "notebooks/02-continuous-integration.ipynb", "RUNBOOK_PROJECT_ROOT": str(ROOT),
           "RUNBOOK_SANDBOX_DIR": os.environ["RUNBOOK_SANDBOX_DIR"]}
    outputs = _run_cells(cells, env)
    text = "".join(o.get("text", "") for o in outputs)
    assert "settings: live False" in text
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    # the plan's live progress line, then the Approve button, shown once: the cell's value (the form was only assigned)
    assert [o["output_type"] for o in views] == ["display_data", "execute_result"], views
    assert views[0]["data"]["text/plain"].startswith("HTML(")
    assert "Approve and apply ci/web" in views[1]["data"]["text/plain"]
    assert "outcome: awaiting approval" in text
    before = re.search(r"before approve: (.*)\n", text).group(1)
    assert "acme/web" in before and "acme/web-base" not in before   # nothing was applied
    assert text.index("outcome: awaiting approval") < text.index("after: applied")
    assert "after: applied" in text
    ecr.describe_repositories(repositoryNames=["acme/web-base"])   # back, from the approved plan
    on_disk = json.loads(record.read_text())
    assert [(r["root"], r["outcome"]) for r in on_disk["roots"]] == [("ci/web", "applied")]


def _registry_reachable() -> bool:
    import socket

    try:
        socket.getaddrinfo("registry.terraform.io", 443)
        return True
    except OSError:
        return False


@needs_terraform()
@pytest.mark.sandbox
@pytest.mark.skipif(_registry_reachable(), reason="this machine reaches the Terraform registry: it is not offline")
def test_jupyter_started_without_a_provider_mirror_offline_says_which_variable_to_set(suite_sandbox, tmp_path):
    """JupyterLab started by hand, not through make or `runbook lab`: no mirror, an empty plugin cache, no registry."""
    cells = [
        "from runbook_lib import notebook as rb",
        f'session = rb.start("parameters/org.yaml", target="sandbox", out_dir="{tmp_path / "out"}")',
        "rb.render(session)",
        'rb.plan_and_apply(session, "cicd-common")',
    ]
    env = {"JPY_SESSION_NAME": "notebooks/01-common-resources.ipynb", "RUNBOOK_PROJECT_ROOT": str(ROOT),
           "RUNBOOK_TF_PROVIDER_MIRROR": "", "RUNBOOK_TF_PLUGIN_CACHE": str(tmp_path / "empty-cache"),
           "RUNBOOK_SANDBOX_DIR": os.environ["RUNBOOK_SANDBOX_DIR"]}
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError) as failed:
        _run_cells(cells, env)
    shown = str(failed.value)
    assert "could not install the AWS provider for cicd-common" in shown
    assert "RUNBOOK_TF_PROVIDER_MIRROR" in shown and "%env RUNBOOK_TF_PROVIDER_MIRROR=" in shown
    assert 'File "' not in shown.split("RunbookError", 1)[-1]   # the message, not a Python traceback
