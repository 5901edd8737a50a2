"""What the notebooks call: one short function per step, with plain, repeatable output.

Notebook cells stay one or two lines; everything they do is here, where tests
reach it. Output is plain text with paths relative to the project and Terraform's
own log kept in files, so executed notebooks compare equal from run to run (nbval).
Gated steps never wait: headless runs need ``auto_approve``; interactive runs get
an Approve button whose click applies the plan that was shown.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from . import checks as checks_lib
from .errors import RunbookError
from .parameters import load_app, load_org
from .parameters.models import App, Org
from .render import Target, make_target, render_files, render_roots, write_files

PROJECT_ROOT_ENV = "RUNBOOK_PROJECT_ROOT"


def _notebook_traceback(self: RunbookError) -> list[str]:
    """IPython shows this instead of a traceback: the error, as the user should read it."""
    return [f"{type(self).__name__}: {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


RunbookError._render_traceback_ = _notebook_traceback  # type: ignore[attr-defined]


def project_root(start: Path | None = None) -> Path:
    """The folder holding ``parameters/``: from $RUNBOOK_PROJECT_ROOT, else searched upward."""
    if os.environ.get(PROJECT_ROOT_ENV):
        return Path(os.environ[PROJECT_ROOT_ENV]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "parameters" / "org.yaml").is_file():
            return folder
    return here


def _console() -> Console:
    return Console(width=120, color_system=None, force_jupyter=False, force_terminal=False, highlight=False,
                   soft_wrap=False)


def say(text: str) -> None:
    _console().print(text, markup=False)


@dataclass
class Session:
    """The parameters a notebook works with, loaded and checked once."""

    root: Path
    org_file: str
    app_file: str | None
    org: Org
    app: App | None
    target_name: str
    out: Path
    stage: str | None = None
    auto_approve: bool = False
    interactive: bool = False
    record_file: Path | None = None
    record: dict = field(default_factory=dict)
    plans: dict = field(default_factory=dict)

    @property
    def target(self):
        return make_target(self.target_name)

    def rel(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def save(self, key: str, value) -> None:
        """Keep a result for the batch report (when the run has a record file)."""
        self.record[key] = value
        if self.record_file:
            self.record_file.parent.mkdir(parents=True, exist_ok=True)
            self.record_file.write_text(json.dumps(self.record, indent=2, default=str))


def start(org_file: str, app_file: str | None = None, target: str = "sandbox", out_dir: str = "build/notebooks",
          stage: str | None = None, auto_approve: bool | None = None, interactive: bool | None = None,
          record_file: str | None = None) -> Session:
    """Load and validate the parameters; on bad input the cell stops with every problem listed.

    Relative paths are taken from the project root (the folder with ``parameters/``).
    ``auto_approve=None`` means: approve automatically in the sandbox, never on live.
    ``interactive=None`` means: forms and Approve buttons when a person opened the
    notebook in Jupyter, none in headless runs.
    """
    if auto_approve is None:
        auto_approve = target == Target.sandbox.value
    if interactive is None:
        # Jupyter Server names the notebook of each kernel it starts; papermill and nbval do not.
        interactive = bool(os.environ.get("JPY_SESSION_NAME"))
    if target not in {t.value for t in Target}:
        raise RunbookError(f"target = {target!r} is not a known target (choose one of: {', '.join(t.value for t in Target)})")
    root = project_root()
    org = load_org(root / org_file, label=org_file)
    app = load_app(root / app_file, org, org_file, label=app_file) if app_file else None
    if stage and app and stage not in {s.name for s in app.stages}:
        raise RunbookError(f"stage = {stage!r} is not a stage of {app_file} (stages: {', '.join(s.name for s in app.stages)})")
    session = Session(root, org_file, app_file, org, app, target, root / out_dir, stage, auto_approve, interactive,
                      (root / record_file) if record_file else None)
    if session.record_file and session.record_file.is_file():
        session.record = json.loads(session.record_file.read_text())  # notebooks of one job share a record
    say(f"Organization: {org.namespace} (Operations account {org.accounts.operations.id}, region {org.region})")
    say("Workload accounts: " + ", ".join(
        f"{n} {a.id} ({', '.join(c.name for c in a.clusters)})" for n, a in org.accounts.workloads.items()))
    if app:
        say(f"Application: {app.name} ({app.source_repository}), stages: {', '.join(s.name for s in app.stages)}"
            + (f"; this run: {stage}" if stage else ""))
    say(f"Target: {target}; output folder: {session.rel(session.out)}; "
        f"approval: {'automatic' if auto_approve else ('by button' if interactive else 'required (auto_approve)')}")
    session.save("parameters", {"org": org_file, "app": app_file, "stage": stage, "target": target})
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
    from .sandbox import server
    from .sandbox.seed import seed

    running = server.start()
    report = seed(session.org, running.url)
    say(f"Sandbox answering at {running.url}")
    say(f"Seeded {len(report.created)} new, {len(report.existing)} already there:")
    for line in report.created + report.existing:
        say(f"  {line}")


def render(session: Session, force: bool = False) -> None:
    report = write_files(session.out, render_files(session.org, session.app, session.target), force=force)
    for rel in report.written:
        say(f"wrote      {rel}")
    for rel in report.unchanged:
        say(f"unchanged  {rel}")
    say(f"{len(report.written)} written, {len(report.unchanged)} unchanged, in {session.rel(session.out)}")


def validate(session: Session) -> bool:
    from .validate import passed, summary, table, validate_tree

    findings = validate_tree(session.org, session.app, session.target, session.out)
    _console().print(table(findings))
    say(f"Validation: {summary(findings)}")
    session.save("validation", summary(findings))
    if not passed(findings):
        raise RunbookError("static validation failed; fix the findings above before planning.")
    return True


def show_file(session: Session, relative: str) -> None:
    """Print one rendered file (relative to the output folder)."""
    print((session.out / relative).read_text(encoding="utf-8"), end="")


def _root(session: Session, name: str):
    for root in render_roots(session.org, session.app, session.target):
        if root.name == name or root.name.split("/")[0] == name:
            return root
    raise RunbookError(f"no root module {name!r} for these parameters")


def _log_sink(session: Session, root_name: str):
    log = session.out / "logs" / f"{root_name.replace('/', '-')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "a", encoding="utf-8")

    def sink(line: str) -> None:
        handle.write(line + "\n")
        handle.flush()
    return sink, log


def plan_and_apply(session: Session, root_name: str):
    """Plan one root, show the summary, and apply it through the gate.

    Headless: applies only with ``auto_approve`` (deletes still stop the run).
    Interactive without auto_approve: returns an Approve button (the cell shows it); nothing waits for it.
    """
    from .terraform.plan import table as plan_table
    from .workflow import Options, run_root

    root = _root(session, root_name)
    sink, log = _log_sink(session, root.name)
    say(f"Planning {root.name} (Terraform's log: {session.rel(log)})")
    shown = {}

    def show(summary) -> None:
        shown["summary"] = summary
        _console().print(plan_table(summary))

    options = Options(target=session.target_name, auto_approve=session.auto_approve, sink=sink, show_plan=show)
    if not session.auto_approve:
        options.confirm = lambda summary: False
    try:
        result = run_root(root, session.out, session.target, options)
    except RunbookError as exc:
        summary = shown.get("summary")
        if summary is not None and "not approved" in str(exc):
            session.plans[root.name] = summary
            session.save(f"plan:{root.name}", {"headline": summary.headline(), "status": "awaiting approval"})
            if session.interactive:
                return _approve_button(session, root, summary)
            say("Not applied: approval needed. Re-run with auto_approve=True (papermill -p auto_approve True) "
                "or run the notebook interactively and press Approve.")
            return
        session.save(f"plan:{root.name}", {"headline": summary.headline() if summary else "", "status": "failed",
                                           "error": str(exc)})
        raise
    say(f"{root.name}: {result.status}" + (f" ({result.plan.headline()})" if result.plan else ""))
    session.save(f"plan:{root.name}", {"headline": result.plan.headline() if result.plan else "", "status": result.status,
                                       "outputs": result.outputs})
    for name, value in sorted(result.outputs.items()):
        say(f"  {name} = {value}")


def _approve_button(session: Session, root, summary):
    """A button that applies exactly the plan shown above (its saved file, checked by digest)."""
    import ipywidgets as widgets

    from .terraform.gate import approve
    from .terraform.runner import Terraform

    button = widgets.Button(description=f"Approve and apply {root.name}", button_style="warning")
    output = widgets.Output()

    def on_click(_):
        button.disabled = True
        sink, _log = _log_sink(session, root.name)
        with output:
            approved = approve(summary, confirm=lambda _summary: True)  # deletes still stop here
            tf = Terraform(session.out / root.path, root=root.name, env=session.target.terraform_env(), sink=sink)
            tf.apply(approved)
            say(f"{root.name}: applied ({summary.headline()})")
            for name, value in sorted(tf.output().items()):
                say(f"  {name} = {value}")
    button.on_click(on_click)
    return widgets.VBox([button, output])  # the cell's value: Jupyter shows it once


def _show_checks(session: Session, results, title: str) -> bool:
    _console().print(checks_lib.table(results, title=title))
    say(f"{title}: {checks_lib.summary(results)}")
    session.save(f"checks:{title}", [r.to_dict() for r in results])
    return not checks_lib.failed(results)


def _clients(session: Session):
    return checks_lib.clients_for(session.org, session.target_name)


def preflight(session: Session) -> bool:
    results = checks_lib.run_checks(session.org, session.app, _clients(session), "preflight")
    return _show_checks(session, results, "preflight")


def postflight(session: Session, roots: tuple[str, ...] = ("common", "ci", "cd")) -> bool:
    """Postflight checks of the given roots only (and of the chosen stage's pipeline)."""
    picked = checks_lib.run_checks(session.org, session.app, _clients(session), "postflight", roots)
    if session.stage:
        picked = [r for r in picked if not r.id.startswith("cd.pipeline.") or r.id.startswith(f"cd.pipeline.{session.stage}.")]
    return _show_checks(session, picked, "postflight " + "+".join(roots))


def wait_for_connection(session: Session, timeout: float = 900):
    """Headless: poll until the connection is AVAILABLE (or the timeout).

    Interactive: read it once and, while it is PENDING, show a Re-check button,
    so the kernel stays free while you complete the handshake in the console.
    """
    from .checks.base import Context
    from .checks.status import wait_for_connection as wait

    ctx = Context(session.org, session.app, _clients(session))
    if session.interactive:
        return _recheck_button(session, ctx)
    state = wait(ctx, timeout=timeout, progress=say)
    session.save("connection", state.status)


def _recheck_button(session: Session, ctx):
    import ipywidgets as widgets

    from .checks.status import HANDSHAKE, NO_HANDSHAKE_IN_SANDBOX, connection_state

    name = session.org.codestar_connection_name
    state = connection_state(ctx)
    session.save("connection", state.status)
    if state.status == "NOT_EMULATED":
        say(NO_HANDSHAKE_IN_SANDBOX)
        return None
    say(f"connection {name} is {state.status}")
    if state.status == "AVAILABLE":
        return None
    say(f"{HANDSHAKE}, then press Re-check.")
    button = widgets.Button(description="Re-check connection", icon="refresh")
    output = widgets.Output()

    def on_click(_):
        with output:
            now = connection_state(ctx)
            session.save("connection", now.status)
            say(f"connection {name} is {now.status}")
            button.disabled = now.status == "AVAILABLE"
    button.on_click(on_click)
    return widgets.VBox([button, output])  # the cell's value: Jupyter shows it once


def pipeline_status(session: Session) -> None:
    from .checks.base import Context
    from .checks.status import pipeline_status as status

    for p in status(Context(session.org, session.app, _clients(session))):
        if p.stages is None:
            stages = "stage states NOT_EMULATED (the sandbox has no GetPipelineState)"
        else:
            stages = ", ".join(f"{name}: {state}" for name, state in p.stages.items()) or "no stage has run"
        say(f"{p.pipeline}: {stages}; {len(p.executions)} recent execution(s)")
