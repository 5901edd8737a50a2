"""Check results: one shape for every check, shown as a terminal table, HTML or JSON."""

from __future__ import annotations

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
    """A rich Table for terminals (ids kept whole; the other columns fold)."""
    from rich.table import Table
    from rich.text import Text

    out = Table(title=Text(title) if title else None)   # every cell a Text: values from AWS are never markup
    out.add_column("Status", no_wrap=True)
    out.add_column("Check", no_wrap=True)
    for column in ("Resource", "Expected", "Found", "Remedy"):
        out.add_column(column, overflow="fold")
    for r in results:
        remedy = r.remedy + (f" ({r.link})" if r.link and r.status is not Status.PASS else "")
        out.add_row(Text(r.status.value, style=_STYLE[r.status]), *map(Text, (
            r.id, r.resource, r.expected, r.found, remedy if r.status is not Status.PASS else "")))
    return out


def _html_row(r: CheckResult) -> list[str]:
    from .. import htmltable as h

    remedy = ""
    if r.status is not Status.PASS:
        remedy = h.text(r.remedy) + (" " + h.link(r.link, "AWS docs") if r.link else "")
    return [h.status(r.status.value), h.ident(r.id), h.text(r.resource), h.text(r.expected), h.text(r.found), remedy]


def to_html(results: list[CheckResult], title: str = "Checks") -> str:
    """An HTML table: rows that need attention first-class, PASS rows folded away when the table is long."""
    from .. import htmltable as h

    attention = [_html_row(r) for r in results if r.status is not Status.PASS]
    passed = [_html_row(r) for r in results if r.status is Status.PASS]
    if len(results) <= h.LONG:   # short: every row, in the order the checks ran
        attention, passed = [_html_row(r) for r in results], []
    return h.table(f"{h.text(title)}: {h.text(summary(results))}",
                   ("Status", "Check", "Resource", "Expected", "Found", "Remedy"), attention, passed, "PASS rows")


def to_text(results: list[CheckResult], title: str = "Checks") -> str:
    """One line per result, for readers without HTML."""
    lines = [f"{title}: {summary(results)}"]
    lines += [f"  {r.status.value:<12} {r.id}: {r.found}" for r in results]
    return "\n".join(lines)


def shown(results: list[CheckResult], title: str = "Checks"):
    """The results as Jupyter shows them: the HTML table, with the text form beside it."""
    from ..htmltable import Shown

    return Shown(to_html(results, title), to_text(results, title))
