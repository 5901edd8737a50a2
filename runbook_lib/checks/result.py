"""Check results: one shape for every check, shown as a terminal table, HTML or JSON."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from enum import Enum


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"
    NOT_EMULATED = "NOT_EMULATED"


@dataclass(frozen=True)
class CheckResult:
    id: str            # stable, e.g. "ci.ecr.immutable-tags"
    status: Status
    resource: str      # what was looked at, e.g. "ecr repository acme/web in 111111111111"
    expected: str
    found: str
    remedy: str = ""
    link: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        return data


def failed(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status is Status.FAIL]


def counts(results: list[CheckResult]) -> dict[str, int]:
    return {s.value: sum(r.status is s for r in results) for s in Status}


def summary(results: list[CheckResult]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts(results).items() if n)


def to_json(results: list[CheckResult]) -> str:
    return json.dumps({"summary": counts(results), "results": [r.to_dict() for r in results]}, indent=2)


_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.WARN: "yellow", Status.SKIP: "dim",
          Status.NOT_EMULATED: "magenta"}


def table(results: list[CheckResult], title: str = "Checks"):
    from rich.table import Table

    out = Table(title=title)
    for column in ("Status", "Check", "Resource", "Expected", "Found", "Remedy"):
        out.add_column(column, overflow="fold")
    for r in results:
        remedy = r.remedy + (f" ({r.link})" if r.link and r.status is not Status.PASS else "")
        out.add_row(f"[{_STYLE[r.status]}]{r.status.value}[/]", r.id, r.resource, r.expected, r.found,
                    remedy if r.status is not Status.PASS else "")
    return out


def to_html(results: list[CheckResult], title: str = "Checks") -> str:
    colour = {Status.PASS: "#1a7f37", Status.FAIL: "#cf222e", Status.WARN: "#9a6700", Status.SKIP: "#6e7781",
              Status.NOT_EMULATED: "#8250df"}
    rows = []
    for r in results:
        remedy = html.escape(r.remedy) if r.status is not Status.PASS else ""
        if r.link and r.status is not Status.PASS:
            remedy += f' <a href="{html.escape(r.link)}">docs</a>'
        rows.append(
            f'<tr><td style="color:{colour[r.status]};font-weight:bold">{r.status.value}</td>'
            f"<td><code>{html.escape(r.id)}</code></td><td>{html.escape(r.resource)}</td>"
            f"<td>{html.escape(r.expected)}</td><td>{html.escape(r.found)}</td><td>{remedy}</td></tr>"
        )
    return (f"<table><caption>{html.escape(title)}: {html.escape(summary(results))}</caption>"
            "<tr><th>Status</th><th>Check</th><th>Resource</th><th>Expected</th><th>Found</th><th>Remedy</th></tr>"
            + "".join(rows) + "</table>")
