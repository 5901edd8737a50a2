"""The trainer's page: one self-contained HTML file of a trainee's labs (every value escaped)."""

from __future__ import annotations

import html
import time
from pathlib import Path

from .. import htmltable as h
from ..render.files import write_text_atomically
from . import progress
from .catalog import LABS, SECTIONS

_PAGE = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
         '<body style="font-family:sans-serif;max-width:70em;margin:1em auto">{body}</body></html>\n')


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def html_page(state: progress.Progress) -> str:
    labs = {lab.name: lab for lab in LABS}
    title = f"Training labs: {state.trainee}"
    passed = state.passed()
    rows = []
    for section in SECTIONS:
        for lab in (lab for lab in LABS if lab.section == section):
            tries = [f for f in state.finished if f.lab == lab.name]
            best = next((f for f in tries if f.outcome == "passed"), None)
            shown = ("PASS" if best else "OPEN" if state.open and state.open.lab == lab.name
                     else "SKIP" if not tries else "FAIL")
            rows.append([h.status(shown), h.ident(lab.name), h.text(lab.title), h.text(section),
                         h.text(best.hints if best else ""), h.text(_minutes(best.seconds) if best else ""),
                         h.text(len(tries))])
    history = [[h.text(_when(f.finished)), h.ident(f.lab), h.text(f.outcome), h.text(f.hints),
                h.text(_minutes(f.seconds)), h.text(f.checks),
                h.text(labs[f.lab].text(labs[f.lab].fault, _Names(f.names)) if f.lab in labs else "")]
               for f in state.finished]
    body = [f"<h1>{h.text(title)}</h1>",
            f"<p>{h.text(len(passed))} of {h.text(len(LABS))} labs passed; written {h.text(_when(time.time()))}. "
            "PASS: fixed with the runbook's own commands, nothing else broken or replaced. "
            "FAIL: given up (reset) without passing. SKIP: not tried yet.</p>",
            h.table("Labs", ("Status", "Lab", "Title", "Guide section", "Hints", "Time", "Attempts"), rows, long=len(rows)),
            h.table("History", ("When", "Lab", "Outcome", "Hints", "Time", "Grades asked", "The fault"), history,
                    long=len(history))
            if history else "<p>No lab finished yet.</p>"]
    if state.open:
        body.append(f"<p>Open now: {h.ident(state.open.lab)}, started {h.text(_when(state.open.started))}, "
                    f"{h.text(state.open.hints)} hint(s) so far.</p>")
    return _PAGE.format(title=html.escape(title), body="".join(body))


class _Names(dict):
    """Fills a fault's placeholders with a neutral word when the names of that run are gone."""

    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def write(out: str | Path, path: str | Path | None = None) -> Path:
    target = Path(path) if path else progress.report_file(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(target, html_page(progress.load(out)))
    return target
