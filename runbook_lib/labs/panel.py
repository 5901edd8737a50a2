"""Notebook 05's surface: the labs as a table, and in JupyterLab a panel that starts, hints, grades and resets.

It only shows what :mod:`runbook_lib.labs.trainer` returns, the same calls the
``runbook lab`` commands make. Paths are absolute (a kernel's working folder is
``notebooks/``), so the commands that hints and symptoms quote can be pasted into a
terminal anywhere.
"""

from __future__ import annotations

import html

from .. import htmltable as h
from ..errors import RunbookError
from . import progress, report, trainer
from .catalog import LABS
from .context import Where


def where(session) -> Where:
    """The lab flags for a notebook session (``notebook.start``), with paths from the project folder."""
    root = session.root
    return Where(str(root / session.org_file), str(root / session.app_file) if session.app_file else None,
                 session.target_name, str(session.out))


def _progress(place: Where) -> progress.Progress:
    """The trainee's progress; a damaged file reads as none here (the buttons say what is wrong with it)."""
    try:
        return progress.load(place.out)
    except RunbookError:
        return progress.Progress()


def catalog(session) -> h.Shown:
    """Every lab with its guide section, and which this trainee has passed or has open."""
    place = where(session)
    plain = "\n".join(f"{lab.name:<28} {lab.section:<24} {lab.title}" for lab in LABS)
    return h.Shown(catalog_html(place), plain)


def catalog_html(place: Where) -> str:
    state = _progress(place)
    done, opened = state.passed(), state.open
    rows = []
    for lab in LABS:
        mark = "OPEN" if opened and opened.lab == lab.name else "PASS" if lab.name in done else ""
        rows.append([h.status(mark) if mark else "", h.ident(lab.name), h.text(lab.title), h.text(lab.section)])
    caption = h.text(f"Training labs: {len(done)} of {len(LABS)} passed")
    return h.table(caption, ("Done", "Lab", "Title", "Guide section"), rows, long=len(rows))


def _box(colour: str, lines: list[str]) -> str:
    body = "".join(f"<div>{line}</div>" for line in lines)
    return f'<div style="border-left:4px solid {colour};padding:4px 8px;margin:4px 0">{body}</div>'


def started_html(started: trainer.Started) -> str:
    return _box("#9a6700", [
        f"<i>{h.text(started.injected)}</i>",
        f"<b>Lab {h.ident(started.lab)}: {h.text(started.title)}</b> (guide: {h.text(started.section)})",
        f"A colleague writes: &ldquo;{h.text(started.symptom)}&rdquo;",
        "Find the cause with the suite (notebook 04's checks, the plans in 01-03, or <code>runbook check</code>), "
        "fix it with the runbook's own steps, then press <b>Check my fix</b>. <b>Hint</b> reveals one step at a time."])


def hint_html(shown: trainer.Hint) -> str:
    last = " (that was the last hint)" if shown.exhausted else ""
    return _box("#0969da", [f"<b>Hint {shown.number}/{shown.total}</b>{h.text(last)}: {h.text(shown.text)}"])


def grade_html(graded) -> str:
    timing = f"{graded.hints} hint(s), {graded.seconds / 60:.1f} min, grade asked {graded.checks} time(s)"
    if graded.passed:
        return _box("#1a7f37", [f"{h.status('PASS')} <b>{h.ident(graded.lab)}</b>: {h.text(timing)}",
                                f"What it was: {h.text(graded.fault)}"])
    items = "".join(f"<li>{h.text(problem)}</li>" for problem in graded.problems)
    return _box("#cf222e", [f"{h.status('FAIL')} <b>{h.ident(graded.lab)}</b> not yet ({h.text(timing)}):",
                            f"<ul style='margin:2px 0'>{items}</ul>"])


def reset_html(done: trainer.Reset) -> str:
    steps = "".join(f"<li>{h.text(step)}</li>" for step in done.steps)
    return _box("#57606a", [f"Lab {h.ident(done.lab)} closed (recorded as reset); the sandbox is back in the "
                            f"applied state.<ul style='margin:2px 0'>{steps}</ul>"])


def error_html(error: RunbookError) -> str:
    return f'<div style="color:#cf222e"><b>Refused:</b> {html.escape(str(error))}</div>'


def status_html(place: Where) -> str:
    opened = _progress(place).open
    if opened is None:
        return "No lab is open. Pick one and press <b>Start</b>."
    return (f"Open: {h.ident(opened.lab)}, {opened.hints} hint(s) so far. "
            "Fix it, then press <b>Check my fix</b> (or <b>Reset</b> to give up and restore the sandbox).")


def controls(session):
    """The panel, in interactive runs only: a lab to pick, Start, Hint, Check my fix, Reset and Report.

    Headless runs show nothing here, as the parameter form in 01-04 (their stored outputs
    are what a person sees on opening the notebook in JupyterLab).
    """
    if not session.interactive:
        return None
    import ipywidgets as widgets

    from ..forms import button, panel

    place = where(session)
    choice = widgets.Dropdown(options=[(f"{lab.name}: {lab.title}", lab.name) for lab in LABS], description="Lab",
                              style={"description_width": "60px"}, layout=widgets.Layout(width="640px"))
    state = widgets.HTML(status_html(place))
    shown = widgets.HTML()
    table = widgets.HTML(catalog_html(place))

    def act(work):
        def handler(_button):
            shown.value = '<i>working&hellip;</i>'
            try:
                shown.value = work()
            except RunbookError as error:
                shown.value = error_html(error)
            except Exception as error:   # a callback's exception would only reach the kernel's log, unseen
                shown.value = (f'<div style="color:#cf222e"><b>Failed:</b> {html.escape(type(error).__name__)}: '
                               f'{html.escape(str(error))}</div>')
            state.value = status_html(place)
            table.value = catalog_html(place)
        return handler

    actions = [
        (button("Start", button_style="warning"), lambda: started_html(trainer.start(place, choice.value))),
        (button("Hint"), lambda: hint_html(trainer.hint(place))),
        (button("Check my fix", button_style="primary"), lambda: grade_html(trainer.check(place))),
        (button("Reset"), lambda: reset_html(trainer.reset(place, say=lambda _line: None))),
        (button("Report"), lambda: f"Trainer's page written: <code>{h.text(report.write(place.out))}</code>"),
    ]
    for widget, work in actions:
        widget.on_click(act(work))
    return panel([choice, widgets.HBox([w for w, _ in actions]), state, shown, table],
                 "Training labs: a lab to pick, Start, Hint, Check my fix, Reset, Report")
