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
def test_every_notebook_runs_with_the_plain_papermill_cli(suite_sandbox, batch_run, tmp_path):
    """The papermill CLI as the README shows it, on each notebook, for worker, in the suite's sandbox.

    The batch left worker's base-image repository deleted (its 04 failed on purpose), so 02
    plans it back and applies it (automatic in the sandbox), and 04 then passes.
    """
    params = tmp_path / "params.yaml"
    params.write_text(f"out_dir: {tmp_path / 'out'}\ntarget: sandbox\napp_file: parameters/apps/worker.yaml\n")
    env = dict(_env(tmp_path), RUNBOOK_SANDBOX_DIR=os.environ["RUNBOOK_SANDBOX_DIR"])
    for notebook in NOTEBOOKS:
        executed = tmp_path / notebook.name
        command = [*PAPERMILL, str(notebook), str(executed), "--cwd", str(tmp_path)]
        # each notebook gets what its parameters cell declares (papermill warns about the rest)
        command += ["-f", str(params)] if notebook.name >= "02" else ["-p", "out_dir", str(tmp_path / "out")]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, (notebook.name, proc.stderr[-3000:])
        assert not _errors(executed)
    assert "ci/worker: applied (ci/worker: 1 to create" in _text(tmp_path / "02-continuous-integration.ipynb")
    final = _text(tmp_path / NOTEBOOKS[-1].name)
    assert re.search(r"postflight common\+ci\+cd: \d+ PASS, 4 NOT_EMULATED\n", final), final[-2000:]


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
    assert len(views) == 1  # the Approve button, shown once: the cell's value (the form was only assigned)
    assert "Approve and apply ci/web" in views[0]["data"]["text/plain"]
    assert "outcome: awaiting approval" in text
    before = re.search(r"before approve: (.*)\n", text).group(1)
    assert "acme/web" in before and "acme/web-base" not in before   # nothing was applied
    assert text.index("outcome: awaiting approval") < text.index("after: applied")
    assert "after: applied" in text
    ecr.describe_repositories(repositoryNames=["acme/web-base"])   # back, from the approved plan
    on_disk = json.loads(record.read_text())
    assert [(r["root"], r["outcome"]) for r in on_disk["roots"]] == [("ci/web", "applied")]
