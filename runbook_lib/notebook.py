"""What the notebooks call: one short function per step, with plain, repeatable output.

Notebook cells stay one or two lines; everything they do is here, where tests
reach it. Tables a person reads (plan, validation, checks, what was rendered) are
HTML, with a text form beside them; the rest is plain lines with paths relative to
the project, and Terraform's own log is kept in files, so executed notebooks compare
equal from run to run (nbval). Nothing shown depends on how the notebook was run
except the widgets, which exist only in Jupyter: a stored output is never a message
meant for a headless run. Gated steps never wait: headless runs need
``auto_approve``; interactive runs get an Approve button whose click applies the
plan that was shown, with its progress and then the root's postflight in place.
"""

from __future__ import annotations

import html
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from . import checks as checks_lib
from .engine import Engine, Settings
from .errors import RunbookError
from .parameters import load_app, load_org
from .project import PROJECT_ROOT_ENV, project_root  # noqa: F401  (project_root is part of this module's API)
from .resolved import connection_parameter
from .results import Outcome, Record


def _notebook_traceback(self: RunbookError) -> list[str]:
    """IPython shows this instead of a traceback: the error, as the user should read it."""
    return [f"{type(self).__name__}: {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


RunbookError._render_traceback_ = _notebook_traceback  # type: ignore[attr-defined]


def _console() -> Console:
    return Console(width=120, color_system=None, force_jupyter=False, force_terminal=False, highlight=False, markup=False,
                   soft_wrap=False)


def say(text: str) -> None:
    _console().print(text, markup=False)


def show(value) -> None:
    """Display ``value`` in the cell's output (HTML where it has it, else its text)."""
    from IPython.display import display

    display(value)


ROOT_KINDS = ("common", "ci", "cd")


@dataclass
class Session:
    """A notebook's working state: its settings (replaced whole by the form) and its record."""

    root: Path
    org_file: str
    app_file: str | None
    settings: Settings
    interactive: bool = False
    record_file: Path | None = None
    record: Record = field(default_factory=Record)

    # read-only views of the settings, for notebook cells
    org = property(lambda self: self.settings.org)
    app = property(lambda self: self.settings.app)
    target_name = property(lambda self: self.settings.target)
    out = property(lambda self: self.settings.out)
    stage = property(lambda self: self.settings.stage)

    def engine(self, **display) -> Engine:
        """An engine for the current settings, sharing this session's record (saved after every step)."""
        self.record.parameters = {"org": self.org_file, "app": self.app_file, "stage": self.stage,
                                  "target": self.target_name}
        return Engine(self.settings, record=self.record, record_file=self.record_file, **display)

    def rel(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def start(org_file: str, app_file: str | None = None, target: str = "sandbox", out_dir: str = "build/notebooks",
          stage: str | None = None, auto_approve: bool | None = None, interactive: bool | None = None,
          record_file: str | None = None) -> Session:
    """Load and validate the parameters; on bad input the cell stops with every problem listed.

    Relative paths are taken from the project root (the folder with ``parameters/``).
    ``auto_approve=None`` means: approve automatically in the sandbox, never on live;
    it is decided when a plan is applied, from the target at that moment.
    ``interactive=None`` means: forms and Approve buttons when a person opened the
    notebook in Jupyter, none in headless runs.
    """
    if interactive is None:
        # Jupyter Server names the notebook of each kernel it starts; papermill and nbval do not.
        interactive = bool(os.environ.get("JPY_SESSION_NAME"))
    root = project_root()
    org = load_org(root / org_file, label=org_file)
    app = load_app(root / app_file, org, org_file, label=app_file) if app_file else None
    settings = Settings(org, app, target=target, out=root / out_dir, stage=stage, auto_approve=auto_approve)
    record_path = (root / record_file) if record_file else None
    # notebooks of one batch job share a record; one of another format is refused, not overwritten
    record = Record.load(record_path) if record_path and record_path.is_file() else Record()
    session = Session(root, org_file, app_file, settings, interactive, record_path, record)
    say(f"Organization: {org.namespace} (Operations account {org.accounts.operations.id}, region {org.region})")
    say("Workload accounts: " + ", ".join(
        f"{n} {a.id} ({', '.join(c.name for c in a.clusters)})" for n, a in org.accounts.workloads.items()))
    if app:
        say(f"Application: {app.name} ({app.source_repository}), stages: {', '.join(s.name for s in app.stages)}"
            + (f"; this run: {stage}" if stage else ""))
    approval = "automatic" if settings.unattended else ("by button" if interactive else "required (auto_approve)")
    say(f"Target: {target}; output folder: {session.rel(session.out)}; approval: {approval}")
    session.engine().save()
    return session


def form(session: Session):
    """The parameter form, in interactive runs only.

    Headless runs show nothing here (and never wait): their outputs are what people see
    when they open the stored notebook in JupyterLab, where a note about headless runs
    would be wrong. The cell then shows the form as soon as it runs.
    """
    if not session.interactive:
        return None
    from .forms import parameter_form

    return parameter_form(session)


def diagram(session: Session):
    """The picture of what this notebook builds: an SVG inside an HTML image.

    Not SVG output: JupyterLab hides SVG output of an untrusted notebook (every notebook
    opened fresh from a clone) behind its text form; an image in HTML it shows.
    """
    from .diagram import as_html, svg
    from .htmltable import Shown

    what = f"{session.org.namespace}" + (f", application {session.app.name}" if session.app else "")
    return Shown(as_html(svg(session.org, session.app), f"What the runbook builds for {what}"),
                 f"Picture of what the runbook builds for {what}")


def sandbox_up(session: Session) -> None:
    """In the sandbox target: start the emulator if needed and seed what the guide assumes exists."""
    if session.target_name != "sandbox":
        say("Target is live: no sandbox needed.")
        return
    running, report = session.engine().seed_sandbox()
    say(f"Sandbox answering at {running.url}")
    say(f"Seeded {len(report.created)} new, {len(report.existing)} already there:")
    for line in report.created + report.existing:
        say(f"  {line}")


def _folder(rel: str) -> str:
    """The folder a rendered file is reported under: its root module, repository or module set."""
    parts = rel.split("/")
    if parts[0] == "infra":
        return "/".join(parts[:-1])
    if parts[0] == "repositories":
        return "/".join(parts[:3])
    return parts[0]


def render_summary(report) -> list[tuple[str, list[str], list[str], list[str]]]:
    """Per folder: (folder, new, changed, unchanged) files, in the order the folders were written."""
    groups: dict[str, tuple[list[str], list[str], list[str]]] = {}
    changed = set(report.changed)
    for rel in report.written:
        groups.setdefault(_folder(rel), ([], [], []))[1 if rel in changed else 0].append(rel)
    for rel in report.unchanged:
        groups.setdefault(_folder(rel), ([], [], []))[2].append(rel)
    return [(folder, *files) for folder, files in sorted(groups.items())]


def render(session: Session, force: bool = False) -> None:
    """Render; show per folder what was written, changed and left unchanged, with the file lists folded away."""
    from . import htmltable as h
    from .htmltable import Shown

    report = session.engine().render(force=force)
    rows, plain = [], []
    for folder, new, changed, unchanged in render_summary(report):
        counts = f"{len(new)} new, {len(changed)} changed, {len(unchanged)} unchanged"
        listing = "\n".join([f"wrote      {r}" for r in new] + [f"overwrote  {r}" for r in changed]
                            + [f"unchanged  {r}" for r in unchanged])
        files = h.collapsible(f"{len(new) + len(changed) + len(unchanged)} files",
                              f'<pre style="margin:0;white-space:pre-wrap">{h.text(listing)}</pre>')
        rows.append([h.ident(folder), h.text(counts), files])
        plain.append(f"  {folder}: {counts}")
    total = f"{len(report.written)} written, {len(report.unchanged)} unchanged, in {session.rel(session.out)}"
    show(Shown(h.table(h.text(f"Rendered: {total}"), ("Folder", "Files", "List"), rows),
               "\n".join([f"Rendered: {total}", *plain])))
    say(total)


def validate(session: Session) -> bool:
    from .validate import passed, shown, summary

    findings = session.engine().validate()
    show(shown(findings))
    say(f"Validation: {summary(findings)}")
    if not passed(findings):
        raise RunbookError("static validation failed; fix the findings above before planning.")
    return True


def show_file(session: Session, relative: str) -> None:
    """Print one rendered file (relative to the output folder)."""
    print((session.out / relative).read_text(encoding="utf-8"), end="")


def _log_sink(session: Session, root_name: str):
    log = session.out / "logs" / f"{root_name.replace('/', '-')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)

    def sink(line: str) -> None:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    return sink, log


class Progress:
    """A status line under the cell that follows a long step: what Terraform does now and the time so far.

    Interactive runs only (a widget); it updates on every line Terraform prints and once a
    second in between, so a quiet Terraform still shows the clock moving.
    """

    def __init__(self, label: str):
        import ipywidgets as widgets

        self.label, self.last, self.started = label, "starting", time.monotonic()
        self.widget = widgets.HTML()
        self._stopped = threading.Event()
        self._update()
        threading.Thread(target=self._tick, daemon=True).start()

    def _update(self, mark: str = "&#9654;") -> None:
        seconds = time.monotonic() - self.started
        self.widget.value = (f'<span style="font-family:monospace;white-space:pre-wrap">{mark} '
                             f'{html.escape(self.label)} ({seconds:.0f} s): {html.escape(self.last[-200:])}</span>')

    def _tick(self) -> None:
        while not self._stopped.wait(1):
            self._update()

    def line(self, text: str) -> None:
        if text.strip():
            self.last = text.strip()
            self._update()

    def done(self, text: str) -> None:
        self._stopped.set()
        self.last = text
        self._update("&#10003;")


def _followed(session: Session, label: str, log_sink):
    """A sink that writes each line to the log and, in Jupyter, moves a status line under the cell; and that line."""
    if not session.interactive:
        return log_sink, None
    progress = Progress(label)
    show(progress.widget)

    def sink(line: str) -> None:
        log_sink(line)
        progress.line(line)
    return sink, progress


def _show_result(result) -> None:
    say(f"{result.root}: {result.outcome.value}" + (f" ({result.headline})" if result.headline else ""))
    for name, value in sorted(result.outputs.items()):
        say(f"  {name} = {value}")
    if result.outcome in (Outcome.FAILED, Outcome.STOPPED):
        raise RunbookError(result.reason)


def _kind(root_name: str) -> str:
    return "common" if root_name == "cicd-common" else root_name.split("/")[0]


def require_common(session: Session, *, quiet: bool = False) -> None:
    """Stop (before anything is planned) when the common root is not applied in this target: 01 comes first.

    ``quiet``: say nothing when it is applied.
    """
    report = session.engine().common_prerequisites()
    missing = [r for r in report.failed if r.found == "missing"]
    if missing:
        listed = "; ".join(f"{r.resource} is missing" for r in missing)
        raise RunbookError(f"run 01 first: the common root (infra/cicd-common) is not applied in the "
                           f"{session.target_name} target ({listed}). Run 01-common-resources.ipynb, then this "
                           "notebook again. Nothing was planned or applied.")
    if report.failed:
        say("Could not confirm that the common root is applied (" + "; ".join(r.found for r in report.failed)
            + "); Terraform will say if something it reads is missing.")
        return
    if not quiet:
        say(f"Common root applied: {session.org.artifact_bucket} and "
            f"{connection_parameter(session.org.codestar_connection_name)} exist.")


def plan_and_apply(session: Session, root_name: str):
    """Plan one root, show the summary, and apply it through the gate.

    Applies without asking only when the settings say so at this moment (sandbox default,
    or auto_approve=True for this run); deletes still stop. Otherwise: interactive runs get
    an Approve button (the cell's value; nothing waits for it), headless runs say what to do.
    The CI and CD roots are planned only once the common root is applied.
    """
    from .terraform.plan import shown as plan_shown

    root = session.engine().root(root_name)
    if _kind(root.name) != "common":
        require_common(session, quiet=True)
    log_sink, log = _log_sink(session, root.name)
    say(f"Planning {root.name} (Terraform's log: {session.rel(log)})")
    sink, progress = _followed(session, f"{root.name}: plan", log_sink)
    engine = session.engine(sink=sink, show_plan=lambda summary: show(plan_shown(summary)))
    result = engine.run_root(root)
    if progress:
        progress.done(result.outcome.value)
    if result.outcome is Outcome.AWAITING_APPROVAL:
        say(f"{root.name}: awaiting approval; nothing was applied.")
        if session.interactive:
            return _approve_button(session, engine, result.plan, log_sink)
        say("Re-run with auto_approve=True (papermill -p auto_approve True) "
            "or run the notebook interactively and press Approve.")
        return None
    _show_result(result)
    return None


def _approve_button(session: Session, engine: Engine, plan, log_sink):
    """A button that applies exactly the plan shown above, through the engine that made it.

    While it applies, a status line follows Terraform; then the result and the postflight
    checks of that root appear in place, under the button.
    """
    import ipywidgets as widgets

    from .forms import button as make_button, panel

    button = make_button(f"Approve and apply {plan.root}", button_style="warning")
    output = widgets.Output()

    def on_click(_):
        button.disabled = True
        button.description = f"Applying {plan.root}..."
        progress = Progress(f"{plan.root}: apply")
        with output:
            show(progress.widget)

        def sink(line: str) -> None:
            log_sink(line)
            progress.line(line)
        engine.sink = sink
        with output:
            try:
                result = engine.apply_plan(plan)   # the record says applied (or why not) afterwards
                progress.done(result.outcome.value)
                button.description = f"{plan.root}: {result.outcome.value}"
                _show_result(result)
                if result.outcome is Outcome.APPLIED:
                    postflight(session, (_kind(plan.root),))
            except RunbookError as exc:
                progress.done("failed")
                say(f"error: {exc}")
    button.on_click(on_click)
    return panel([button, output], f"Approve and apply {plan.root}: a button")  # the cell's value: shown once


def _show_checks(report) -> bool:
    from .checks.result import shown

    results = list(report.results)
    show(shown(results, title=report.title))
    say(f"{report.title}: {checks_lib.summary(results)}")
    return report.ok


def _awaiting(session: Session, kinds: tuple[str, ...]) -> list[str]:
    """Roots of these kinds whose plan waits for a person's approval in this session."""
    return [name for name, r in session.record.roots.items()
            if r.outcome is Outcome.AWAITING_APPROVAL and _kind(name) in kinds]


class ChecksFailed(RunbookError):
    """The checks above found problems: the notebook stops here, and a papermill or batch run is marked failed."""


def stop_unless(passed: bool, reason: str) -> None:
    """Stop the run with ``reason`` (shown as one line in the cell, not a traceback) unless ``passed``."""
    if not passed:
        raise ChecksFailed(reason)


def preflight(session: Session) -> bool:
    return _show_checks(session.engine().check("preflight", title="preflight"))


def postflight(session: Session, roots: tuple[str, ...] = ("common", "ci", "cd")) -> bool:
    """Postflight checks of the given roots only (and of the chosen stage's pipeline).

    While a plan of one of them waits for approval there is nothing to check yet: say so
    (the Approve button runs these checks itself once it has applied).
    """
    waiting = _awaiting(session, roots)
    if waiting:
        say(f"waiting for approval of {', '.join(waiting)}: press Approve above; "
            "its postflight appears under the button once applied.")
        return True
    return _show_checks(session.engine().check("postflight", roots, title="postflight " + "+".join(roots)))


def wait_for_connection(session: Session, timeout: float = 900):
    """Headless: poll until the connection is AVAILABLE (or the timeout), then check it again.

    In the sandbox, headless, a PENDING connection gets the sandbox's stand-in for the
    console handshake first (there is no console and no person), and says so.
    Interactive: read it once and, while it is PENDING, show a Re-check button (and in
    the sandbox a button that completes the handshake), so the kernel stays free while
    you complete the handshake in the console.
    """
    engine = session.engine(sink=say)
    if session.interactive:
        return _recheck_button(session, engine)
    if session.target_name == "sandbox" and engine.connection().status == "PENDING":
        say(f"connection {session.org.codestar_connection_name} is PENDING: on AWS a person now completes the "
            "handshake in the console.")
        _say_handshake(engine.complete_handshake())
    engine.wait_for_connection(timeout=timeout, progress=say)
    postflight(session, ("common",))   # the same checks again, now that the connection is AVAILABLE
    return None


def _say_handshake(done) -> None:
    say(f"sandbox stand-in: the handshake of connection {done.name} is complete; it is now {done.status}.")
    say(f"({done.note}.)")


def _recheck_button(session: Session, engine: Engine):
    import ipywidgets as widgets

    from .checks.status import HANDSHAKE

    name = session.org.codestar_connection_name
    state = engine.connection()
    say(f"connection {name} is {state.status}")
    if state.status == "AVAILABLE":
        return None
    say(f"{HANDSHAKE}, then press Re-check.")
    from .forms import button as make_button, panel

    button = make_button("Re-check connection", icon="refresh")
    output = widgets.Output()
    buttons = [button]

    def on_click(_):
        with output:
            now = engine.connection()
            say(f"connection {name} is {now.status}")
            button.disabled = now.status == "AVAILABLE"
    button.on_click(on_click)
    if session.target_name == "sandbox":
        handshake = make_button("Complete handshake (sandbox stand-in)", icon="handshake-o")

        def on_handshake(_):
            with output:
                _say_handshake(engine.complete_handshake())
                handshake.disabled = True
        handshake.on_click(on_handshake)
        buttons.append(handshake)
    row = buttons[0] if len(buttons) == 1 else widgets.HBox(buttons)
    summary = "Re-check connection: a button" + (", and Complete handshake (sandbox stand-in)" if len(buttons) > 1 else "")
    return panel([row, output], summary)  # the cell's value: Jupyter shows it once


def pipeline_status(session: Session) -> None:
    for p in session.engine().pipeline_status():
        stages = ", ".join(f"{name}: {state}" for name, state in p.stages.items()) or "no stages"
        say(f"{p.pipeline}: {stages}; {len(p.executions)} recent execution(s)")


def first_pull_request(session: Session, limit: float = 600.0) -> bool:
    """Open the first pull request and follow the image build it starts (sandbox); on live, the git steps.

    Every build phase and log line goes to a log file; the cell shows what stays true from run
    to run: each build's outcome, the cause and remedy of a failure, the image found in ECR.
    """
    return _pipeline(session, "pull-request", limit)


def first_merge(session: Session, limit: float = 600.0) -> bool:
    """Merge into the first stage's branch and follow the pipeline it starts, through Deploy (sandbox only)."""
    return _pipeline(session, "merge", limit)


def _pipeline(session: Session, action: str, limit: float) -> bool:
    if session.target_name != "sandbox":
        say("On live the runbook pushes nothing to your repositories. Put the image buildspec in place:")
        for step in session.engine().pipeline_live_steps():
            print(f"  {step}")   # commands to copy: never wrapped
        say("The image project's webhook then starts a build for the pull request; merging it into a stage's "
            "branch starts that stage's pipeline. Run notebook 04 to see the pipelines' states.")
        return True
    log_sink, log = _log_sink(session, f"pipeline-{session.app.name}" if session.app else "pipeline")
    say(f"{'Opening a pull request' if action == 'pull-request' else 'Merging a pull request'} in the sandbox's "
        f"GitHub (build phases and log lines: {session.rel(log)})")
    sink, progress = _followed(session, f"{session.app.name if session.app else ''}: {action}", log_sink)
    run = session.engine(sink=log_sink).pipeline(action, limit=limit, progress=sink)
    if progress:
        progress.done("succeeded" if run.succeeded else "see below")
    if action == "pull-request":
        say(f"Pull request #{run.number} in {run.repository}, commit {run.head}")
    else:
        say(f"Merged pull request #{run.number} into {run.base} of {run.repository}, commit {run.head}")
    if run.nothing_started:
        raise RunbookError(run.nothing_started)
    for build in run.builds:
        cause = build.cause()
        say(f"  {build.project}: {build.status}" + (f" ({cause})" if cause else ""))
    for image in run.images:
        say(f"  ECR holds {image}")
    for execution in run.executions:
        say(f"  pipeline {execution.pipeline}: {execution.status}")
        for step in execution.actions:
            say(f"    {step.stage}.{step.action}: {step.status}")
    for line in run.not_emulated:
        say(f"  {line}")
    for diagnosis in run.causes:
        say(f"  cause: {diagnosis[0]}\n  remedy: {diagnosis[1]}" if diagnosis else
            f"  cause: not one the runbook knows; read {session.rel(log)}")
    if run.still_running:
        say(f"  still running after {limit:.0f} s; it goes on in the sandbox (run the cell again to open another)")
    return run.succeeded
