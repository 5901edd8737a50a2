"""The run's ``summary.json`` and ``report.html``, both written from the same typed job results.

Every executed notebook is also rendered to HTML beside it (nbconvert), and the report
links that page, so the whole run reads in a browser opened on the folder, with no
server. The report wraps its text to fit a window of 1,400 px (no sideways scrolling).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..checks.result import to_html
from .jobs import JobResult, summary

STYLE = ("body{font-family:sans-serif;margin:1.5em;max-width:100%;overflow-wrap:anywhere}"
         "table{border-collapse:collapse;max-width:100%}td,th{border:1px solid #d0d7de;"
         "padding:4px 8px;text-align:left;vertical-align:top}pre{margin:0;white-space:pre-wrap}"
         "svg,img{max-width:100%;height:auto}.bad{color:#cf222e}.good{color:#1a7f37}")


def render_notebook(path: Path) -> tuple[Path | None, str]:
    """Write ``path`` rendered to HTML beside it; return the page (None if it could not be rendered) and why not."""
    from nbconvert import HTMLExporter

    try:
        body, _ = HTMLExporter(template_name="lab").from_filename(str(path))
    except Exception as exc:   # nbconvert raises many types (template, JSON, conversion); the report says which
        return None, f"{type(exc).__name__}: {exc}"
    page = path.with_suffix(".html")
    page.write_text(body, encoding="utf-8")
    return page, ""


def _step_link(folder: Path, notebook: str, path: str) -> str:
    executed = Path(path)
    if not executed.is_file():
        return html.escape(notebook)
    page, problem = render_notebook(executed)
    raw = f" (<a href=\"{html.escape(executed.relative_to(folder).as_posix())}\">.ipynb</a>)"
    if page is None:
        return f"{html.escape(notebook)}{raw} <span class=\"bad\">not rendered: {html.escape(problem)}</span>"
    return f"<a href=\"{html.escape(page.relative_to(folder).as_posix())}\">{html.escape(notebook)}</a>{raw}"


def _section(folder: Path, result: JobResult, diagram: str) -> str:
    steps = "".join(
        f"<tr><td>{_step_link(folder, s.notebook, s.path)}</td>"
        f"<td class=\"{'good' if s.status == 'ok' else 'bad'}\">{s.status}</td>"
        f"<td>{s.seconds} s</td><td><pre>{html.escape(s.error)}</pre></td></tr>"
        for s in result.steps)
    record = result.record
    roots = "".join(f"<li><code>{html.escape(r.root)}</code>: {html.escape(r.outcome.value)}"
                    + (f" ({html.escape(r.headline)})" if r.headline else "") + "</li>"
                    for r in (record.roots.values() if record else ()))
    checks = "".join(to_html(list(c.results), title=c.title) for c in (record.checks.values() if record else ()))
    problems = result.problems()
    state = ("<span class=\"good\">healthy</span>" if not problems else "<span class=\"bad\">NOT healthy</span>")
    listed = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
    return (f"<section><h2>{html.escape(result.label)}: {state}</h2>"
            + (f"<ul class=\"bad\">{listed}</ul>" if problems else "")
            + f"<table><tr><th>Notebook</th><th>Status</th><th>Time</th><th>Error</th></tr>{steps}</table>"
            f"<h3>Roots</h3><ul>{roots or '<li>none recorded</li>'}</ul>"
            f"<h3>Checks</h3>{checks or '<p>none recorded</p>'}"
            f"<h3>Picture</h3>{diagram}</section>")


def write_report(folder: Path, results: list[JobResult], run_name: str, diagrams: dict[str, str],
                 *, interrupted: bool = False) -> dict:
    """Write ``summary.json`` and ``report.html`` into ``folder``; return the summary."""
    data = summary(results, interrupted=interrupted)
    (folder / "summary.json").write_text(json.dumps(data, indent=2, default=str))
    unhealthy = [r.label for r in results if not r.healthy]
    if interrupted:
        headline = "INTERRUPTED before the end"
    elif unhealthy:
        headline = f"NOT healthy: {', '.join(unhealthy)}"
    else:
        headline = "every application healthy"
    page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Runbook run {html.escape(run_name)}</title>"
            f"<style>{STYLE}</style></head><body><h1>Runbook run {html.escape(run_name)}: {html.escape(headline)}</h1>"
            + "".join(_section(folder, r, diagrams.get(r.label, "")) for r in results) + "</body></html>")
    (folder / "report.html").write_text(page)
    return data
