"""HTML tables a person reads in a notebook, a rendered notebook page or the batch report.

One look everywhere: status cells in colour, text that wraps inside its column (the
table fits its window instead of scrolling sideways), ids, links and account numbers
that never break in the middle, and long tables summarised, the rows that need
attention shown and the rest collapsible. Only tags and inline styles that JupyterLab keeps in an
untrusted notebook are used, so stored outputs look the same before and after a run.
Callers pass cells already escaped; :func:`text`, :func:`ident` and :func:`link` build them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

# text colour, background
COLOURS = {
    "PASS": ("#1a7f37", "#dafbe1"), "FAIL": ("#cf222e", "#ffebe9"), "WARN": ("#9a6700", "#fff8c5"),
    "SKIP": ("#57606a", "#f6f8fa"), "NOT_EMULATED": ("#8250df", "#fbefff"), "OPEN": ("#0969da", "#ddf4ff"),
    "create": ("#1a7f37", "#dafbe1"), "update": ("#9a6700", "#fff8c5"), "replace": ("#cf222e", "#ffebe9"),
    "delete": ("#cf222e", "#ffebe9"), "forget": ("#cf222e", "#ffebe9"),
}
# Tables longer than this show only the rows that need attention; the rest fold away.
LONG = 10
_TABLE = "border-collapse:collapse;width:100%;max-width:100%;table-layout:auto;margin:0.3em 0"
_CELL = ("border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top;"
         "white-space:normal;overflow-wrap:anywhere;word-break:normal")
# Long tokens (ARNs, module sources) may break anywhere so the table fits its window; no column is
# squeezed below this, so words in it stay whole (ids and links do not break at all).
_HEAD = _CELL + ";background-color:#f6f8fa;font-weight:bold;min-width:8em"
_CAPTION = "caption-side:top;text-align:left;font-weight:bold;padding:2px 0"


# A token this long (an ARN, a module source, a URL) gets break points after its separators,
# so the browser wraps it at ':' or '/' rather than inside an account number or a name.
_LONG_TOKEN = 20
_SEPARATED = re.compile(r"(?<=[:/,=])")
# A run of this many digits or more (an account number, a numeric id) never breaks, however narrow its
# column: JupyterLab's text font squeezes a column to its floor, where "(111111111111)" would split.
_NUMBER = re.compile(r"\d{6,}")
_WHOLE = '<span style="white-space:nowrap">{}</span>'


def _escaped(piece: str) -> str:
    return _NUMBER.sub(lambda m: _WHOLE.format(m.group()), html.escape(piece))


def _breakable(token: str) -> str:
    if len(token) < _LONG_TOKEN:
        return _escaped(token)
    return "<wbr>".join(_escaped(piece) for piece in _SEPARATED.split(token))


def text(value: object) -> str:
    """Plain text, escaped; long tokens may wrap after their separators."""
    return "".join(_breakable(part) for part in re.split(r"(\s+)", str(value)))


def ident(value: str) -> str:
    """An id or a resource address: monospace, never split across lines."""
    return f'<code style="white-space:nowrap">{html.escape(value)}</code>'


def link(url: str, label: str) -> str:
    """A link whose whole label is clickable and stays on one line."""
    return (f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener" '
            f'style="white-space:nowrap">{html.escape(label)}</a>')


def status(value: str) -> str:
    fg, bg = COLOURS.get(value, ("#24292f", "#ffffff"))
    return (f'<span style="color:{fg};background-color:{bg};font-weight:bold;white-space:nowrap;'
            f'padding:0 4px">{html.escape(value)}</span>')


def _rows(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> str:
    head = "".join(f'<th style="{_HEAD}">{html.escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>" for row in rows)
    cap = f'<caption style="{_CAPTION}">{caption}</caption>' if caption else ""
    return f'<table style="{_TABLE}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
          quiet: Sequence[Sequence[str]] = (), quiet_label: str = "more rows", long: int = LONG) -> str:
    """A table of ``rows``; ``quiet`` rows (those that need no attention) fold away when the table is long.

    ``caption`` is HTML (escape it with :func:`text`). A short table shows every row in order.
    """
    if len(rows) + len(quiet) <= long:
        return _rows(headers, [*rows, *quiet], caption)
    shown = _rows(headers, rows, caption)   # the caption and the header, even when every row folds away
    if not quiet:
        return shown
    folded = _rows(headers, quiet)
    return (f'{shown}<details><summary style="cursor:pointer">{len(quiet)} {html.escape(quiet_label)} '
            f'(show)</summary>{folded}</details>')


def collapsible(summary: str, body: str) -> str:
    """``body`` (HTML) folded under a one-line ``summary`` (HTML)."""
    return f'<details><summary style="cursor:pointer">{summary}</summary>{body}</details>'


class Shown:
    """A value Jupyter shows as HTML, with a text form for everything else (and for nbval's readers)."""

    def __init__(self, html_text: str, plain: str):
        self.html, self.plain = html_text, plain

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.plain
