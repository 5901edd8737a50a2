"""Findings of static validation, and their table."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    check: str          # e.g. "terraform fmt", "module inputs"
    subject: str        # the file or module looked at
    status: Status
    detail: str = ""


def passed(findings: list[Finding]) -> bool:
    return all(f.status is Status.PASS for f in findings)


def table(findings: list[Finding], title: str = "Static validation"):
    """A rich Table of the findings (printable in a terminal or a notebook)."""
    from rich.table import Table
    from rich.text import Text

    out = Table(title=Text(title) if title else None, show_lines=False)   # every cell a Text: never markup
    out.add_column("Status", no_wrap=True)
    out.add_column("Check", no_wrap=True)
    out.add_column("Subject")
    out.add_column("Detail")
    for f in findings:
        style = "green" if f.status is Status.PASS else "bold red"
        out.add_row(Text(f.status.value, style=style), Text(f.check), Text(f.subject), Text(f.detail))
    return out


def summary(findings: list[Finding]) -> str:
    failed = sum(f.status is Status.FAIL for f in findings)
    return f"{len(findings) - failed} passed, {failed} failed"


def _html_row(f: Finding) -> list[str]:
    from .. import htmltable as h

    return [h.status(f.status.value), h.ident(f.check), h.text(f.subject), h.text(f.detail)]


def to_html(findings: list[Finding], title: str = "Static validation") -> str:
    """An HTML table: failures shown, passes folded away when the table is long."""
    from .. import htmltable as h

    failed = [_html_row(f) for f in findings if f.status is Status.FAIL]
    passes = [_html_row(f) for f in findings if f.status is Status.PASS]
    return h.table(f"{h.text(title)}: {h.text(summary(findings))}", ("Status", "Check", "Subject", "Detail"),
                   failed, passes, "passed")


def shown(findings: list[Finding], title: str = "Static validation"):
    """The findings as Jupyter shows them: the HTML table, with a text form beside it."""
    from ..htmltable import Shown

    lines = [f"{title}: {summary(findings)}"] + [f"  {f.status.value} {f.check} {f.subject}: {f.detail}" for f in findings]
    return Shown(to_html(findings, title), "\n".join(lines))
