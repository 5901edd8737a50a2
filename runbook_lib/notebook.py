"""What the notebooks call: one short function per step, with plain-text output.

Notebook cells stay one or two lines; everything they do is here, where tests
reach it. Output is plain text with paths relative to the project, so executed
notebooks compare equal from run to run (nbval).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from .errors import RunbookError
from .parameters import load_app, load_org
from .parameters.models import App, Org
from .render import Target, make_target, render_files, write_files

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
    return Console(width=110, color_system=None, force_jupyter=False, force_terminal=False, highlight=False, soft_wrap=False)


@dataclass
class Session:
    """The parameters a notebook works with, loaded and checked once."""

    root: Path
    org_file: Path
    app_file: Path | None
    org: Org
    app: App | None
    target_name: str
    out: Path

    @property
    def target(self):
        return make_target(self.target_name)

    def rel(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def start(org_file: str, app_file: str | None = None, target: str = "live", out_dir: str = "build") -> Session:
    """Load and validate the parameters; on bad input the cell stops with every problem listed.

    Relative paths are taken from the project root (the folder with ``parameters/``).
    """
    if target not in {t.value for t in Target}:
        raise RunbookError(f"target = {target!r} is not a known target (choose one of: {', '.join(t.value for t in Target)})")
    root = project_root()
    org_path = root / org_file
    app_path = root / app_file if app_file else None
    org = load_org(org_path, label=org_file)
    app = load_app(app_path, org, org_file, label=app_file) if app_path else None
    out = root / out_dir
    session = Session(root, org_path, app_path, org, app, target, out)
    console = _console()
    console.print(f"Organization: {org.namespace} (Operations account {org.accounts.operations.id}, region {org.region})")
    console.print(f"Workload accounts: {', '.join(f'{n} {a.id}' for n, a in org.accounts.workloads.items())}")
    if app:
        console.print(f"Application: {app.name} ({app.source_repository}), stages: {', '.join(s.name for s in app.stages)}")
    console.print(f"Target: {target}; output folder: {session.rel(out)}")
    return session


def render(session: Session, force: bool = False) -> None:
    report = write_files(session.out, render_files(session.org, session.app, session.target), force=force)
    console = _console()
    for rel in report.written:
        console.print(f"wrote      {rel}")
    for rel in report.unchanged:
        console.print(f"unchanged  {rel}")
    console.print(f"{len(report.written)} written, {len(report.unchanged)} unchanged, in {session.rel(session.out)}")


def validate(session: Session) -> bool:
    from .validate import passed, summary, table, validate_tree

    findings = validate_tree(session.org, session.app, session.target, session.out)
    console = _console()
    console.print(table(findings))
    console.print(f"Validation: {summary(findings)}")
    return passed(findings)


def show_file(session: Session, relative: str) -> None:
    """Print one rendered file (relative to the output folder)."""
    print((session.out / relative).read_text(encoding="utf-8"), end="")
