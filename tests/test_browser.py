"""The notebooks in JupyterLab, in a real browser (Chromium through Playwright), on a sandbox of their own.

`runbook lab` starts JupyterLab on a copy of the notebooks (out_dir in tmp, approval
off in 02) and a fresh sandbox; the tests run the notebooks' cells as a person would
(Run > Run All Cells) and look at what the page shows. Screenshots go to
build/screenshots/. Skipped, with the reason, when Chromium or Playwright is missing
(`apt-get install -y chromium`; `.ci/run` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, needs_terraform
from .test_html_wrapping import LINES_OF

pytestmark = [pytest.mark.slow, pytest.mark.sandbox, pytest.mark.terraform, pytest.mark.xdist_group("browser"),
              needs_terraform()]

SHOTS = ROOT / "build" / "screenshots"
OPS = "111111111111"
WIDGET_ERRORS = ("Error displaying widget", "model not found")
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"   # the notebook in view


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Playwright's own browsers are not downloaded here: Debian's Chromium, by path
        chromium = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _copy_notebooks(folder: Path, out: Path) -> None:
    """The project's notebooks with out_dir in tmp and, in 02, approval off (papermill's own parameter injection)."""
    import nbformat
    from papermill.parameterize import parameterize_notebook

    folder.mkdir()
    for source in sorted((ROOT / "notebooks").glob("0[0-5]-*.ipynb")):
        nb = nbformat.read(source, as_version=4)
        params = {"out_dir": str(out)}
        if source.name.startswith("02"):
            params["auto_approve"] = False
        nbformat.write(parameterize_notebook(nb, params), folder / source.name)


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """`runbook lab` on copies of the notebooks and a fresh sandbox; stopped at the end as a person would (Ctrl-C)."""
    from runbook_lib.sandbox import server

    work = tmp_path_factory.mktemp("lab")
    _copy_notebooks(work / "notebooks", work / "out")
    config = work / "jupyter-config"
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')  # no news toast over cells
    port = _free_port()
    env = dict(os.environ, RUNBOOK_SANDBOX_DIR=str(work / "sandbox"), RUNBOOK_PROJECT_ROOT=str(ROOT),
               JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(work / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(work / "jupyter-runtime"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "runbook_lib.cli", "lab", "--port", str(port),
                             "--notebooks", str(work / "notebooks")], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines, url = [], None
    deadline = time.monotonic() + 180
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"JupyterLab: (http://127\.0\.0\.1:\d+/lab\?token=\S+)", line)
        url = found.group(1) if found else None
    assert url, "runbook lab did not print its URL:\n" + "".join(lines)
    sandbox = server.status(work / "sandbox")
    assert sandbox is not None
    yield {"url": url, "work": work, "env": env, "sandbox": sandbox, "port": port}
    proc.send_signal(signal.SIGINT)   # Ctrl-C
    rest, _ = proc.communicate(timeout=180)   # JupyterLab gets 20 s, busy kernels 20 s more
    assert proc.returncode == 0, rest
    assert "JupyterLab stopped" in rest and "Sandbox stopped" in rest
    assert server.status(work / "sandbox") is None


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def _aws(lab, service: str, account: str = OPS):
    from runbook_lib.sandbox.clients import SandboxSessions

    return SandboxSessions(lab["sandbox"].url, "us-east-1", "terraform-execution").client(service, account)


def _open(page, lab, name: str) -> None:
    base, token = lab["url"].split("/lab?token=")
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")   # reset: no tabs restored from the last test
    page.locator(PANEL + " .jp-Notebook").wait_for(timeout=60_000)
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    try:   # JupyterLab may ask which kernel to start: the notebook's own, as a person would answer
        dialog.wait_for(timeout=5_000)
        dialog.locator("button", has_text=re.compile(r"^Select$")).click()
    except Exception:
        pass
    page.locator(PANEL + " .jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)


def _run_all(page, timeout: float = 600) -> None:
    """Run > Run All Cells, then wait until the cells ran: a new execution count, none running or queued, kernel idle.

    Counts are compared with those before, not watched for [*]: a notebook whose cells all
    finish within a moment never shows [*] long enough to be seen. (Run All marks every cell
    queued at once, and a cell that raises stops the rest: those keep their old prompt.)
    """
    prompts = (f"[...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputArea-prompt')]"
               ".map(e => e.textContent.trim())")
    before = page.evaluate(f"() => {prompts}")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    idle = f"document.querySelector(\"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']\")"
    try:
        page.wait_for_function(
            f"""(before) => {{
                const now = {prompts};
                return now.some((p, i) => p !== before[i] && /\\[\\d+\\]/.test(p))
                    && !now.some(p => p.includes("*")) && {idle};
            }}""", arg=before, timeout=timeout * 1000, polling=1000)
    except Exception:
        _shot(page, "run-all-timeout")
        raise


def _shown(page, locator, timeout: float) -> None:
    """Wait for ``locator``; when it never shows, fail with the end of what the notebook shows instead."""
    try:
        locator.wait_for(timeout=timeout)
    except Exception as exc:
        _shot(page, "wait-timeout")
        raise AssertionError(f"{exc}\n--- the notebook shows, at its end ---\n{_text(page)[-3000:]}") from None


def _text(page) -> str:
    return page.locator(PANEL + " .jp-Notebook").text_content()   # also cells scrolled out of view (not laid out)


def _shot(target, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path


def _no_widget_errors(text: str) -> None:
    for problem in WIDGET_ERRORS:
        assert problem not in text


def test_a_stored_notebook_shows_no_headless_message_and_its_picture_untrusted(page, lab):
    """As a clone opens it: stored outputs, not trusted (copied in after `runbook lab` trusted the others)."""
    shutil.copy(ROOT / "notebooks" / "02-continuous-integration.ipynb", lab["work"] / "notebooks" / "stored-02.ipynb")
    _open(page, lab, "stored-02.ipynb")
    text = _text(page)
    assert "Headless run: the parameter form is not shown" not in text
    assert "<IPython.core.display.SVG object>" not in text
    picture = page.locator("img[alt^='What the runbook builds']").first
    picture.wait_for()
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator("table caption", has_text="Plan: ci/web").count() == 1
    _shot(page, "stored-02-untrusted")


def test_02_before_01_says_run_01_first_and_creates_nothing(page, lab):
    _open(page, lab, "02-continuous-integration.ipynb")
    _run_all(page)
    text = _text(page)
    assert "run 01 first" in text
    assert "Traceback" not in text
    _shot(page.locator(".jp-Cell", has_text="run 01 first").last, "02-before-01")
    assert _aws(lab, "ecr").describe_repositories()["repositories"] == []
    objects = _aws(lab, "s3").list_objects_v2(Bucket="acme-terraform-state").get("Contents", [])
    assert objects == []   # no root has a state: nothing was planned or applied


def test_01_plan_and_checks_are_html_tables(page, lab):
    _open(page, lab, "01-common-resources.ipynb")
    _run_all(page)
    text = _text(page)
    _no_widget_errors(text)
    assert "cicd-common: applied" in text
    plan = page.locator("table", has=page.locator("caption", has_text="Plan: cicd-common"))
    checks = page.locator("table", has=page.locator("caption", has_text="postflight common"))
    assert plan.count() == 1 and checks.count() == 1
    cell = page.locator(".jp-Cell", has=checks)
    passes = cell.locator("td", has_text=re.compile(r"^PASS$"))
    assert passes.count() >= 1   # PASS rows: folded under the table when it is long
    for summary in cell.locator("details > summary").all():   # unfold them, as a reader would, to measure them
        summary.click()
    # ids whole: every id cell is one line
    heights = cell.locator("table code").evaluate_all("els => els.map(e => e.getClientRects().length)")
    assert heights and set(heights) == {1}
    # account numbers whole, in the Resource column JupyterLab squeezes to its floor
    assert cell.evaluate(LINES_OF, [OPS]) == {OPS: 1}
    assert page.locator("img[alt^='What the runbook builds']").first.evaluate("i => i.naturalWidth > 0")
    plan.scroll_into_view_if_needed()
    _shot(page.locator(".jp-Cell", has=plan), "01-plan-table")
    _shot(page.locator(".jp-Cell", has=checks), "01-check-table")
    rendered = page.locator("table", has=page.locator("caption", has_text="Rendered:"))
    assert rendered.locator("details").count() >= 1 and "infra/cicd-common" in rendered.text_content()


def _label_cut(locator) -> bool:
    return locator.evaluate("e => e.scrollWidth > e.clientWidth + 1")


def test_02_form_inline_error_then_approve_applies_and_shows_pass(page, lab):
    _open(page, lab, "02-continuous-integration.ipynb")
    _run_all(page)
    text = _text(page)
    _no_widget_errors(text)
    form = page.locator(".widget-vbox", has=page.get_by_text("Organization file")).first
    form.scroll_into_view_if_needed()
    labels = form.locator(".widget-label")
    names = [n.strip() for n in labels.evaluate_all("els => els.map(e => e.textContent)") if n.strip()]
    assert "Organization file" in names and "Application file" in names and "Application name" in names
    assert len(names) == len(set(names)), names
    assert not labels.evaluate_all("els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
    _shot(form, "02-form")

    # a bad value shows the inline error and changes nothing
    ecr = page.locator(".widget-text", has=page.locator(".widget-label", has_text=re.compile(r"^ECR repository$")))
    ecr.locator("input").fill("BAD NAME!")
    page.locator("button", has_text=re.compile(r"^Validate$")).click()
    error = page.get_by_text(re.compile(r"ecr_repository = 'BAD NAME!' is not"))
    error.wait_for(timeout=30_000)
    _shot(form, "02-form-inline-error")

    # approval off: the plan waits, the next cells say so, nothing was applied
    assert "waiting for approval of ci/web: press Approve above" in text
    assert "postflight ci:" not in text
    assert _aws(lab, "ecr").describe_repositories()["repositories"] == []
    approve = page.locator("button", has_text="Approve and apply ci/web")
    assert not _label_cut(approve)
    _shot(page.locator(".jp-Cell", has=approve), "02-approve-waiting")
    approve.click()
    page.get_by_text(re.compile(r"ci/web: apply \(\d+ s\)")).first.wait_for(timeout=30_000)   # progress while it applies
    _shot(page.locator(".jp-Cell", has=page.locator("button", has_text="ci/web")), "02-approve-progress")
    checks = page.locator("table", has=page.locator("caption", has_text="postflight ci"))
    _shown(page, checks, 300_000)
    cell = page.locator(".jp-Cell", has=checks)
    assert "ci/web: applied" in cell.inner_text()
    assert re.search(r"postflight ci: \d+ PASS", checks.locator("caption").inner_text())
    assert cell.locator("td", has_text=re.compile(r"^PASS$")).count() >= 1   # PASS rows: folded when the table is long
    assert cell.locator("td", has_text=re.compile(r"^FAIL$")).count() == 0
    _shot(cell, "02-approve-applied")
    names = [r["repositoryName"] for r in _aws(lab, "ecr").describe_repositories()["repositories"]]
    assert sorted(names) == ["acme/web", "acme/web-base"]


def _load_applied(lab, golden) -> None:
    """The run's applied snapshot (both example apps applied, the handshake done) in the lab's sandbox."""
    from runbook_lib.sandbox import server

    snapshot = server.snapshot_file("applied", lab["work"] / "sandbox")
    snapshot.parent.mkdir(mode=0o700, exist_ok=True)
    shutil.copy(golden / snapshot.name, snapshot)
    server.load_snapshot("applied", lab["work"] / "sandbox")


def test_the_batch_report_fits_the_window_and_links_rendered_notebooks(page, web_run_on_applied):
    """The report of a real batch over web on the applied snapshot (the one the Dask test compares with)."""
    run = web_run_on_applied[0]
    page.goto((run / "report.html").as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    _shot(page, "report")
    links = page.locator("a", has_text=re.compile(r"^0\d-")).evaluate_all("as => as.map(a => a.href)")
    assert len(links) == 5 and all(href.endswith(".html") for href in links)
    for href in links:
        page.goto(href)
        assert page.locator(".jp-Notebook .jp-Cell").count() > 3, href   # a rendered notebook, not raw JSON
        assert '"nbformat"' not in page.locator("body").inner_text()
    _shot(page, "report-notebook-04")


def test_the_picture_fits_its_text_at_any_name_length(page, tmp_path):
    """Every line of the diagram, measured by the browser, lies inside its box, even with the longest names allowed."""
    from runbook_lib.diagram import svg
    from runbook_lib.parameters import load_app, load_org

    long = "c" * 35   # the longest a cluster name may be: its role <name>-deploy fills 60 of 64 characters
    text = (ROOT / "parameters" / "org.yaml").read_text().replace("acme-staging-west", f"acme-staging-west-{long}")
    (tmp_path / "org.yaml").write_text(text)
    org = load_org(tmp_path / "org.yaml")
    app = load_app(ROOT / "parameters" / "apps" / "web.yaml", org, tmp_path / "org.yaml")
    page.set_content(f"<html><body>{svg(org, app)}</body></html>")
    outside = page.evaluate("""() => {
        const out = [];
        for (const rect of document.querySelectorAll('rect')) {
            const x = +rect.getAttribute('x'), w = +rect.getAttribute('width');
            const y = +rect.getAttribute('y'), h = +rect.getAttribute('height');
            for (const t of document.querySelectorAll('text')) {
                const b = t.getBBox();
                if (b.y >= y && b.y + b.height <= y + h && b.x >= x && b.x < x + w && b.x + b.width > x + w - 4)
                    out.push(t.textContent);
            }
        }
        return out;
    }""")
    assert outside == []
    _shot(page, "diagram-long-names")


# --- the training labs, done as a trainee would: the symptom in 05, the cause in 04, the fix in 02 or 01 ---

def _lab_panel(page, lab):
    """Notebook 05 run, its panel in view."""
    _open(page, lab, "05-troubleshooting-labs.ipynb")
    _run_all(page)
    _no_widget_errors(_text(page))
    start = page.locator("button", has_text=re.compile(r"^Start$"))
    start.wait_for(timeout=30_000)
    return page.locator(".widget-vbox", has=start).first


def _press(page, panel, button: str, expect: str, timeout: float = 120_000) -> str:
    panel.locator("button", has_text=re.compile(f"^{re.escape(button)}$")).click()
    shown = panel.locator(".widget-html", has_text=re.compile(expect)).first
    shown.wait_for(timeout=timeout)
    return shown.inner_text()


def test_two_labs_done_in_jupyterlab_as_a_trainee_would(page, lab, golden):
    from runbook_lib.labs import find

    out = lab["work"] / "out"
    _load_applied(lab, golden)   # labs start from the applied suite, its files rendered
    done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "render", "--app", "parameters/apps/web.yaml",
                           "--target", "sandbox", "--out", str(out)], cwd=ROOT, env=lab["env"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # lab 1: pull requests start nothing. Symptom in 05, the failing check in 04, the fix by applying 02's plan
    panel = _lab_panel(page, lab)
    webhook = find("webhook-deleted")
    panel.locator("select").first.select_option(label=f"{webhook.name}: {webhook.title}")
    symptom = _press(page, panel, "Start", "A colleague writes")
    assert "lab injector:" in symptom and "Pull requests in acme-co/web no longer start image builds" in symptom
    assert "webhook" not in symptom.split("A colleague writes")[1].lower()   # the symptom, never the cause
    _shot(panel, "05-lab-webhook-started")
    _open(page, lab, "04-verify-and-operate.ipynb")
    _run_all(page)
    failing = page.locator("tr", has=page.locator("code", has_text=re.compile(r"^ci\.project\.image\.webhook$")))
    assert failing.locator("td", has_text=re.compile(r"^FAIL$")).count() == 1
    _shot(page.locator(".jp-Cell", has=failing), "05-lab-webhook-found-in-04")
    _open(page, lab, "02-continuous-integration.ipynb")
    _run_all(page)
    approve = page.locator("button", has_text="Approve and apply ci/web")
    _shown(page, approve, 30_000)
    approve.click()
    checks = page.locator("table", has=page.locator("caption", has_text="postflight ci"))
    _shown(page, checks, 300_000)
    assert page.locator(".jp-Cell", has=checks).locator("td", has_text=re.compile(r"^FAIL$")).count() == 0
    panel = _lab_panel(page, lab)
    assert "Open: webhook-deleted" in panel.inner_text()
    graded = _press(page, panel, "Check my fix", "What it was|not yet")
    assert "What it was: The image project's webhook was deleted." in graded, graded
    _shot(panel, "05-lab-webhook-passed")

    # lab 2: merges start no pipeline. The fix: the handshake step in 01
    connection = find("connection-pending")
    panel.locator("select").first.select_option(label=f"{connection.name}: {connection.title}")
    symptom = _press(page, panel, "Start", "A colleague writes")
    assert "Merges to acme-co/web stopped starting any pipeline" in symptom
    _open(page, lab, "01-common-resources.ipynb")
    _run_all(page)
    assert "connection acme-github is PENDING" in _text(page)
    handshake = page.locator("button", has_text="Complete handshake (sandbox stand-in)")
    handshake.click()
    page.get_by_text(re.compile(r"sandbox stand-in: the handshake of connection acme-github is complete")).wait_for(
        timeout=60_000)
    _shot(page.locator(".jp-Cell", has=handshake), "05-lab-connection-fixed-in-01")
    panel = _lab_panel(page, lab)
    graded = _press(page, panel, "Check my fix", "What it was|not yet")
    assert "What it was: The CodeStar connection was PENDING again" in graded, graded
    _shot(panel, "05-lab-connection-passed")
    report = _press(page, panel, "Report", "page written")
    page_file = out / "labs" / "report.html"
    assert str(page_file) in report
    page.goto(page_file.as_uri())
    body = page.locator("body").inner_text()
    assert re.search(r"\b2 of \d+ labs passed", body), body
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    _shot(page, "05-lab-trainer-report")
