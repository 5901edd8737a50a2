"""ipywidgets forms bound to the parameter models, for interactive notebook runs.

The form edits the same fields the YAML files hold (titles and descriptions come
from the pydantic models), validates with the same rules, and shows the issues
inline. Nothing waits on it: headless runs simply never display it.
"""

from __future__ import annotations

import functools
import html

from .errors import ParameterError, RunbookError
from .parameters import App, load_org, read_yaml, validate_app_data

# App fields that are plain strings, edited as text boxes (stages stay in the YAML file).
TEXT_FIELDS = ("name", "source_repository", "manifests_repository", "ecr_repository", "dockerfile", "helm_chart")


def _issues_html(error: ParameterError) -> str:
    items = "".join(f"<li><code>{html.escape(str(issue))}</code></li>" for issue in error.issues)
    return f'<div style="color:#cf222e"><b>{len(error.issues)} problem(s):</b><ul>{items}</ul></div>'


def apply_form(session, org_file: str | None, app_file: str | None, target: str, stage: str | None,
               fields: dict[str, str], tool: str) -> str:
    """Validate the form's values and, when valid, give the session new settings; return the status HTML.

    Nothing is changed on any problem. A new target resets approval to "ask": a plan on
    live never applies because the notebook started in the sandbox.
    """
    root = session.root
    try:
        if not org_file or not app_file:
            raise RunbookError("choose an organization file and an application file")
        org = load_org(root / org_file, label=org_file)
        data = read_yaml(root / app_file, app_file)
        data.update({name: value for name, value in fields.items() if value != ""})
        data["manifests_tool"] = tool
        app = validate_app_data(data, org, f"{app_file} (as edited)", org_file)
        settings = session.settings.changed(org=org, app=app, target=target, stage=stage)
    except ParameterError as error:
        return _issues_html(error)
    except RunbookError as error:
        return f'<div style="color:#cf222e"><b>Not applied:</b> <code>{html.escape(str(error))}</code></div>'
    session.settings, session.org_file, session.app_file = settings, org_file, app_file
    session.engine().save()
    return (f'<span style="color:#1a7f37">Valid: {html.escape(app.name)}, {len(app.stages)} stage(s), '
            f'target {html.escape(settings.target)}, approval {html.escape(settings.approval)}. '
            'The next cells use these values.</span>')


# Every label is shown whole: one label width for the form, wide enough for the longest.
LABEL_WIDTH = "190px"
FIELD_WIDTH = "640px"


@functools.cache
def _panel_type():
    import ipywidgets as widgets

    class RunbookPanel(widgets.VBox):
        """A VBox whose text form says what it is: shown where the widget cannot be (a saved page, a closed kernel)."""

        summary = "widgets"

        def __repr__(self) -> str:
            return f"{self.summary} (run the cell in Jupyter)"

    return RunbookPanel


def panel(children, summary: str):
    """A VBox of ``children`` whose text form is ``summary``."""
    box = _panel_type()(children)
    box.summary = summary
    return box


def button(description: str, **kwargs):
    """A button wide enough for its whole label."""
    import ipywidgets as widgets

    return widgets.Button(description=description, layout=widgets.Layout(width=f"{len(description) + 8}ch"), **kwargs)


def parameter_form(session):
    """A form to choose the files, edit the application's fields, pick a stage, and validate."""
    import ipywidgets as widgets

    root = session.root
    style = {"description_width": LABEL_WIDTH}
    layout = widgets.Layout(width=FIELD_WIDTH)
    orgs = sorted(str(p.relative_to(root)) for p in (root / "parameters").glob("*.yaml"))
    apps = sorted(str(p.relative_to(root)) for p in (root / "parameters" / "apps").glob("*.yaml"))
    org_file = widgets.Dropdown(options=orgs, value=session.org_file if session.org_file in orgs else None,
                                description="Organization file", style=style, layout=layout)
    app_file = widgets.Dropdown(options=apps, value=session.app_file if session.app_file in apps else None,
                                description="Application file", style=style, layout=layout)
    target = widgets.ToggleButtons(options=["sandbox", "live"], value=session.target_name, description="Target",
                                   style=style)
    fields = {}
    for name in TEXT_FIELDS:
        info = App.model_fields[name]
        fields[name] = widgets.Text(description=info.title or name, tooltip=info.description or "",
                                    placeholder=info.description or "", style=style, layout=layout)
    tool = widgets.Dropdown(options=["kustomize", "helm", "plain"], description=App.model_fields["manifests_tool"].title,
                            style=style, layout=layout)
    stage = widgets.Dropdown(options=[("all stages", None)], description="Stage", style=style, layout=layout)
    status = widgets.HTML()
    check = button("Validate", button_style="primary")

    def load_fields(_=None):
        if not app_file.value:
            return
        data = read_yaml(root / app_file.value, app_file.value)
        for name, box in fields.items():
            box.value = str(data.get(name, App.model_fields[name].default or ""))
        tool.value = data.get("manifests_tool", "kustomize") if data.get("manifests_tool") in tool.options else "kustomize"
        stage.options = [("all stages", None)] + [(s.get("name"), s.get("name")) for s in data.get("stages", [])
                                                  if isinstance(s, dict)]

    def validate(_=None):
        status.value = apply_form(session, org_file.value, app_file.value, target.value, stage.value,
                                  {name: box.value for name, box in fields.items()}, tool.value)

    app_file.observe(load_fields, names="value")
    check.on_click(validate)
    load_fields()
    return panel([org_file, app_file, target, *fields.values(), tool, stage, check, status],
                 "Parameter form: Organization file, Application file, Target, the application's fields, Stage")
