"""Notebook 05's panel: the labs table, the buttons, and refusals shown in the cell (no traceback, nothing written).

The labs themselves (faults, grading, reset) are proven in test_labs.py; here only what
the notebook surface shows for what the trainer calls return.
"""

from __future__ import annotations

import pytest

from runbook_lib import notebook as rb
from runbook_lib.labs import LABS, panel, progress


def _session(tmp_path, target="sandbox", interactive=True):
    return rb.start("parameters/org.yaml", "parameters/apps/web.yaml", target=target, out_dir=str(tmp_path / "out"),
                    interactive=interactive)


def _buttons(box) -> dict:
    row = next(child for child in box.children if child.__class__.__name__ == "HBox")
    return {b.description: b for b in row.children}


def test_the_catalog_lists_every_lab_with_its_section_and_the_trainees_marks(tmp_path):
    session = _session(tmp_path, interactive=False)
    shown = panel.catalog(session)
    for lab in LABS:
        assert lab.name in shown.plain and lab.section in shown.html and lab.name in shown.html
    assert f"0 of {len(LABS)} passed" in shown.html
    state = progress.Progress("someone")
    state.finished.append(progress.Finished(LABS[0].name, "passed", 1, 60.0, 1, 0.0))
    state.open = progress.OpenLab(LABS[1].name, 0.0, {}, {}, [], {})
    progress.save(tmp_path / "out", state)
    marked = panel.catalog(session).html
    assert f"1 of {len(LABS)} passed" in marked
    assert marked.count(">PASS<") == 1 and marked.count(">OPEN<") == 1


def test_headless_runs_show_no_buttons(tmp_path):
    assert panel.controls(_session(tmp_path, interactive=False)) is None


def test_the_buttons_are_all_there_and_whole(tmp_path):
    pytest.importorskip("ipywidgets")
    box = panel.controls(_session(tmp_path))
    buttons = _buttons(box)
    assert list(buttons) == ["Start", "Hint", "Check my fix", "Reset", "Report"]
    for name, button in buttons.items():
        assert button.layout.width == f"{len(name) + 8}ch"
    assert "No lab is open" in box.children[2].value


def test_hint_with_no_lab_open_is_refused_in_the_cell_and_writes_nothing(tmp_path):
    pytest.importorskip("ipywidgets")
    box = panel.controls(_session(tmp_path))
    _buttons(box)["Hint"].click()
    shown = box.children[3].value
    assert "Refused:" in shown and "no lab is open" in shown and "Traceback" not in shown
    assert not (tmp_path / "out" / "labs").exists()


def test_start_against_live_is_refused_before_any_aws_call_and_writes_nothing(tmp_path, monkeypatch):
    """Hostile: the notebook's target set to live. The refusal comes before a client exists."""
    pytest.importorskip("ipywidgets")
    import boto3

    def no_client(*_args, **_kwargs):
        raise AssertionError("an AWS client was created for a lab on live")
    monkeypatch.setattr(boto3.session.Session, "client", no_client)
    monkeypatch.setattr(boto3, "client", no_client)
    box = panel.controls(_session(tmp_path, target="live"))
    _buttons(box)["Start"].click()
    shown = box.children[3].value
    assert "Refused:" in shown and "--target live" in shown and "only against the sandbox" in shown, shown
    assert not (tmp_path / "out" / "labs").exists()


def test_the_report_button_writes_the_trainers_page(tmp_path):
    pytest.importorskip("ipywidgets")
    box = panel.controls(_session(tmp_path))
    _buttons(box)["Report"].click()
    page = tmp_path / "out" / "labs" / "report.html"
    assert str(page) in box.children[3].value.replace("<wbr>", "")   # long paths may wrap at their slashes
    assert page.read_text().startswith("<!DOCTYPE html>") and "No lab finished yet" in page.read_text()


def test_an_unexpected_failure_shows_in_the_cell_not_only_in_the_kernel_log(tmp_path, monkeypatch):
    """Hostile: the sandbox vanishes mid-click (here: the grade call raises a connection error)."""
    pytest.importorskip("ipywidgets")
    from runbook_lib.labs import trainer

    def unreachable(_place):
        raise ConnectionRefusedError("[Errno 111] Connection refused")
    monkeypatch.setattr(trainer, "check", unreachable)
    box = panel.controls(_session(tmp_path))
    _buttons(box)["Check my fix"].click()
    shown = box.children[3].value
    assert "Failed:" in shown and "ConnectionRefusedError" in shown and "working" not in shown
