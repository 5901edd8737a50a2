"""Notebooks: headless runs with the plain papermill CLI, clear errors, and nbval that can fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from .conftest import ROOT, needs_terraform

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
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
def test_the_whole_suite_with_the_plain_papermill_cli_in_the_sandbox(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(f"out_dir: {tmp_path / 'out'}\ntarget: sandbox\n")
    env = dict(_env(tmp_path), RUNBOOK_SANDBOX_DIR=str(tmp_path / "sandbox"))
    try:
        for notebook in NOTEBOOKS:
            executed = tmp_path / notebook.name
            proc = subprocess.run([*PAPERMILL, str(notebook), str(executed), "-f", str(params), "--cwd", str(tmp_path)],
                                  capture_output=True, text=True, env=env, timeout=900)
            assert proc.returncode == 0, (notebook.name, proc.stderr[-3000:])
            assert not _errors(executed)
    finally:
        subprocess.run([sys.executable, "-m", "runbook_lib.cli", "sandbox", "stop"], env=env, capture_output=True)
    final = _text(tmp_path / NOTEBOOKS[-1].name)
    assert "postflight common+ci+cd: 27 PASS, 4 NOT_EMULATED" in final
    assert "FAIL" not in final.replace("0 FAIL", "")


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


def test_opened_in_jupyter_the_notebook_shows_the_form():
    outputs = _run_cells(FORM_CELLS, {"JPY_SESSION_NAME": "notebooks/02-continuous-integration.ipynb",
                                      "RUNBOOK_PROJECT_ROOT": str(ROOT)})
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1
    assert "Organization" in views[0]["data"]["text/plain"]


def test_headless_the_form_is_not_shown_and_nothing_waits():
    outputs = _run_cells(FORM_CELLS, {"JPY_SESSION_NAME": "", "RUNBOOK_PROJECT_ROOT": str(ROOT)})
    assert not [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert any("Headless run: the parameter form is not shown" in o.get("text", "") for o in outputs)


@needs_terraform()
@pytest.mark.sandbox
def test_opened_in_jupyter_a_plan_waits_for_one_approve_button(tmp_path):
    """Interactive, without auto_approve: the plan is shown with one Approve button, and nothing is applied."""
    cells = [
        "from runbook_lib import notebook as rb",
        f'session = rb.start("parameters/org.yaml", target="sandbox", out_dir="{tmp_path / "out"}", auto_approve=False)',
        "rb.sandbox_up(session)",
        "rb.render(session)",
        'rb.plan_and_apply(session, "cicd-common")',
        'print(sorted(session.record["plan:cicd-common"].items()))',
    ]
    env = {"JPY_SESSION_NAME": "notebooks/01-common-resources.ipynb", "RUNBOOK_PROJECT_ROOT": str(ROOT),
           "RUNBOOK_SANDBOX_DIR": str(tmp_path / "sandbox")}
    try:
        outputs = _run_cells(cells, env)
    finally:
        subprocess.run([sys.executable, "-m", "runbook_lib.cli", "sandbox", "stop"], capture_output=True,
                       env=dict(os.environ, **env))
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1  # shown once: the cell's value, not also displayed inside
    assert "Approve and apply cicd-common" in views[0]["data"]["text/plain"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "('status', 'awaiting approval')" in text
    assert "cicd-common: applied" not in text
