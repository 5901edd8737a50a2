"""The run's JSON summary and HTML report: per application, its steps, plans and checks."""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..checks.result import CheckResult, Status, to_html


def _checks(record: dict) -> list[CheckResult]:
    out = []
    for key, rows in record.items():
        if key.startswith("checks:"):
            out += [CheckResult(**{**row, "status": Status(row["status"])}) for row in rows]
    return out


def write_report(folder: Path, results, run_name: str) -> None:
    from .runner import summary_dict

    summary = summary_dict(results)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    sections = []
    for r in results:
        steps = "".join(
            f"<tr><td><a href=\"{html.escape(Path(s['path']).relative_to(folder).as_posix())}\">{html.escape(s['notebook'])}</a></td>"
            f"<td style=\"color:{'#1a7f37' if s['status'] == 'ok' else '#cf222e'}\">{s['status']}</td>"
            f"<td>{s['seconds']} s</td><td><pre>{html.escape(s.get('error', ''))}</pre></td></tr>"
            for s in r.steps)
        plans = "".join(f"<li><code>{html.escape(k.split(':', 1)[1])}</code>: {html.escape(v.get('headline', ''))} "
                        f"({html.escape(v.get('status', ''))})</li>"
                        for k, v in r.record.items() if k.startswith("plan:"))
        checks = _checks(r.record)
        diagram = ""
        params = r.record.get("parameters", {})
        if params.get("org"):
            try:
                from ..diagram import svg
                from ..parameters import load_app, load_org

                org = load_org(params["org"])
                app = load_app(params["app"], org, params["org"]) if params.get("app") else None
                diagram = svg(org, app)
            except Exception as exc:  # the report still shows everything else
                diagram = f"<p>(no diagram: {html.escape(str(exc))})</p>"
        sections.append(
            f"<section><h2>{html.escape(r.label)}: {'healthy' if r.ok and not any(c.status is Status.FAIL for c in checks) else 'NOT healthy'}</h2>"
            f"<table><tr><th>Notebook</th><th>Status</th><th>Time</th><th>Error</th></tr>{steps}</table>"
            f"<h3>Plans</h3><ul>{plans or '<li>none recorded</li>'}</ul>"
            f"<h3>Checks</h3>{to_html(checks, title=r.label) if checks else '<p>none recorded</p>'}"
            f"<h3>Picture</h3>{diagram}</section>")
    page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Runbook run {html.escape(run_name)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #d0d7de;"
            "padding:4px 8px;text-align:left;vertical-align:top}pre{margin:0;white-space:pre-wrap}</style></head><body>"
            f"<h1>Runbook run {html.escape(run_name)}: {'every step passed' if summary['ok'] else 'some steps FAILED'}</h1>"
            + "".join(sections) + "</body></html>")
    (folder / "report.html").write_text(page)
