"""What the notebooks call: one short function per step, with plain, repeatable output.

Notebook cells stay one or two lines; everything they do is here, where tests
reach it. Output is plain text with paths relative to the project and Terraform's
own log kept in files, so executed notebooks compare equal from run to run (nbval).
Gated steps never wait: headless runs need ``auto_approve``; interactive runs get
an Approve button whose click applies the plan that was shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from . import checks as checks_lib
from .engine import Engine, Settings
from .errors import RunbookError
from .parameters import load_app, load_org
from .project import PROJECT_ROOT_ENV, project_root  # noqa: F401  (project_root is part of this module's API)
from .results import Outcome, Record


def _notebook_traceback(self: RunbookError) -> list[str]:
    """IPython shows this instead of a traceback: the error, as the user should read it."""
    return [f"{type(self).__name__}: {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


RunbookError._render_traceback_ = _notebook_traceback  # type: ignore[attr-defined]


def _console() -> Console:
    return Console(width=120, color_system=None, force_jupyter=False, force_terminal=False, highlight=False,
                   soft_wrap=False)


def say(text: str) -> None:
    _console().print(text, markup=False)


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
    """The parameter form, in interactive runs only (headless runs show nothing and never wait)."""
    if not session.interactive:
        say("Headless run: the parameter form is not shown (open the notebook in JupyterLab to use it).")
        return None
    from .forms import parameter_form

    return parameter_form(session)


def diagram(session: Session):
    """The picture of what this notebook builds (SVG)."""
    from IPython.display import SVG

    from .diagram import svg

    return SVG(svg(session.org, session.app))


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


def render(session: Session, force: bool = False) -> None:
    report = session.engine().render(force=force)
    for rel in report.written:
        say(f"wrote      {rel}")
    for rel in report.unchanged:
        say(f"unchanged  {rel}")
    say(f"{len(report.written)} written, {len(report.unchanged)} unchanged, in {session.rel(session.out)}")


def validate(session: Session) -> bool:
    from .validate import passed, summary, table

    findings = session.engine().validate()
    _console().print(table(findings))
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


def _show_result(result) -> None:
    say(f"{result.root}: {result.outcome.value}" + (f" ({result.headline})" if result.headline else ""))
    for name, value in sorted(result.outputs.items()):
        say(f"  {name} = {value}")
    if result.outcome in (Outcome.FAILED, Outcome.STOPPED):
        raise RunbookError(result.reason)


def plan_and_apply(session: Session, root_name: str):
    """Plan one root, show the summary, and apply it through the gate.

    Applies without asking only when the settings say so at this moment (sandbox default,
    or auto_approve=True for this run); deletes still stop. Otherwise: interactive runs get
    an Approve button (the cell's value; nothing waits for it), headless runs say what to do.
    """
    from .terraform.plan import table as plan_table

    root = session.engine().root(root_name)
    sink, log = _log_sink(session, root.name)
    say(f"Planning {root.name} (Terraform's log: {session.rel(log)})")
    engine = session.engine(sink=sink, show_plan=lambda summary: _console().print(plan_table(summary)))
    result = engine.run_root(root)
    if result.outcome is Outcome.AWAITING_APPROVAL:
        say(f"{root.name}: awaiting approval; nothing was applied.")
        if session.interactive:
            return _approve_button(session, engine, result.plan)
        say("Re-run with auto_approve=True (papermill -p auto_approve True) "
            "or run the notebook interactively and press Approve.")
        return None
    _show_result(result)
    return None


def _approve_button(session: Session, engine: Engine, plan):
    """A button that applies exactly the plan shown above, through the engine that made it."""
    import ipywidgets as widgets

    button = widgets.Button(description=f"Approve and apply {plan.root}", button_style="warning",
                            layout=widgets.Layout(width="auto"))
    output = widgets.Output()

    def on_click(_):
        button.disabled = True
        with output:
            say(f"Applying {plan.root} ...")
            result = engine.apply_plan(plan)   # the record says applied (or why not) afterwards
            _show_result(result)
    button.on_click(on_click)
    return widgets.VBox([button, output])  # the cell's value: Jupyter shows it once


def _show_checks(report) -> bool:
    results = list(report.results)
    _console().print(checks_lib.table(results, title=report.title))
    say(f"{report.title}: {checks_lib.summary(results)}")
    return report.ok


def preflight(session: Session) -> bool:
    return _show_checks(session.engine().check("preflight", title="preflight"))


def postflight(session: Session, roots: tuple[str, ...] = ("common", "ci", "cd")) -> bool:
    """Postflight checks of the given roots only (and of the chosen stage's pipeline)."""
    return _show_checks(session.engine().check("postflight", roots, title="postflight " + "+".join(roots)))


def wait_for_connection(session: Session, timeout: float = 900):
    """Headless: poll until the connection is AVAILABLE (or the timeout).

    Interactive: read it once and, while it is PENDING, show a Re-check button,
    so the kernel stays free while you complete the handshake in the console.
    """
    engine = session.engine(sink=say)
    if session.interactive:
        return _recheck_button(session, engine)
    engine.wait_for_connection(timeout=timeout, progress=say)
    return None


def _recheck_button(session: Session, engine: Engine):
    import ipywidgets as widgets

    from .checks.status import HANDSHAKE, NO_HANDSHAKE_IN_SANDBOX

    name = session.org.codestar_connection_name
    state = engine.connection()
    if state.status == "NOT_EMULATED":
        say(NO_HANDSHAKE_IN_SANDBOX)
        return None
    say(f"connection {name} is {state.status}")
    if state.status == "AVAILABLE":
        return None
    say(f"{HANDSHAKE}, then press Re-check.")
    button = widgets.Button(description="Re-check connection", icon="refresh", layout=widgets.Layout(width="auto"))
    output = widgets.Output()

    def on_click(_):
        with output:
            now = engine.connection()
            say(f"connection {name} is {now.status}")
            button.disabled = now.status == "AVAILABLE"
    button.on_click(on_click)
    return widgets.VBox([button, output])  # the cell's value: Jupyter shows it once


def pipeline_status(session: Session) -> None:
    for p in session.engine().pipeline_status():
        if p.stages is None:
            stages = "stage states NOT_EMULATED (the sandbox has no GetPipelineState)"
        else:
            stages = ", ".join(f"{name}: {state}" for name, state in p.stages.items()) or "no stage has run"
        say(f"{p.pipeline}: {stages}; {len(p.executions)} recent execution(s)")
