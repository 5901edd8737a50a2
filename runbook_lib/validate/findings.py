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

    out = Table(title=title, show_lines=False)
    out.add_column("Status", no_wrap=True)
    out.add_column("Check", no_wrap=True)
    out.add_column("Subject")
    out.add_column("Detail")
    for f in findings:
        style = "green" if f.status is Status.PASS else "bold red"
        out.add_row(f"[{style}]{f.status.value}[/]", f.check, f.subject, f.detail)
    return out


def summary(findings: list[Finding]) -> str:
    failed = sum(f.status is Status.FAIL for f in findings)
    return f"{len(findings) - failed} passed, {failed} failed"
