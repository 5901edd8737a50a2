"""Read parameters files and turn every problem into a :class:`ParameterIssue`."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import MISSING, ParameterError, ParameterIssue
from .models import App, Org
from .rules import check_app, check_org

M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        else:
            out += f".{part}" if out else str(part)
    return out


def _rule(error: dict, model: type[BaseModel], loc: tuple) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known field here (check the spelling against the README's parameters reference)"
    if kind == "value_error":
        return error["msg"].removeprefix("Value error, ")
    if "field" in (error.get("ctx") or {}):
        return error["msg"]
    if kind in ("string_type", "str_type"):
        return "must be a string (quote it in YAML)"
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected}"
    if kind in ("too_short", "list_type", "dict_type", "model_type", "bool_type", "model_attributes_type"):
        return error["msg"][0].lower() + error["msg"][1:]
    return error["msg"][0].lower() + error["msg"][1:]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (YAML forbids it)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice (first on line {seen[key] + 1})", key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path, file: str) -> tuple[object, list[ParameterIssue]]:
    if not path.is_file():
        return None, [ParameterIssue(file, "", MISSING, "does not exist or is not a file")]
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [ParameterIssue(file, "", MISSING, f"is not valid YAML at {where}: {problem}")]
    except UnicodeDecodeError:
        return None, [ParameterIssue(file, "", MISSING, "is not UTF-8 text")]
    if not isinstance(data, dict):
        return None, [ParameterIssue(file, "", MISSING, "must hold a YAML mapping of fields at the top level")]
    return data, []


def _foreign(model: type[BaseModel], data: dict, file: str, kind: str) -> list[ParameterIssue]:
    """One issue for a file that has none of the model's fields (a kubeconfig given as org.yaml)."""
    known = {info.alias or name for name, info in model.model_fields.items()}
    if not data or known & set(data):
        return []
    return [ParameterIssue(
        file, "", MISSING,
        f"has none of the fields of {kind} parameters file (it has {len(data)} other top-level "
        f"key{'' if len(data) == 1 else 's'}, not shown); is it the right file?",
    )]


def read_yaml(path: str | Path, label: str | None = None) -> dict:
    """A parameters file as a dict; unreadable files raise ParameterError."""
    data, issues = _read_yaml(Path(path), label or str(path))
    if issues:
        raise ParameterError(issues)
    return data


def _validate(model: type[M], data: dict, file: str, context: dict | None = None) -> tuple[M | None, list[ParameterIssue]]:
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            value = MISSING if error["type"] == "missing" else error.get("input", MISSING)
            ctx = error.get("ctx") or {}
            if "field" in ctx:  # a model-level rule about one of its fields
                loc, value = (*loc, ctx["field"]), ctx["value"]
            if loc and loc[-1] == "[key]":
                value = loc[-2]
            # A field we do not know may hold anything (a Docker config.json's credentials): never shown.
            conceal = error["type"] == "extra_forbidden"
            issues.append(ParameterIssue(file, field_path(loc), value, _rule(error, model, loc), conceal))
        return None, issues


def load_org(path: str | Path, label: str | None = None) -> Org:
    """Load and validate ``org.yaml``; raise :class:`ParameterError` listing every issue.

    ``label`` is how messages name the file (default: the path as given).
    """
    path = Path(path)
    file = label or str(path)
    data, issues = _read_yaml(path, file)
    if issues:
        raise ParameterError(issues)
    foreign = _foreign(Org, data, file, "an organization")
    if foreign:
        raise ParameterError(foreign)
    org, issues = _validate(Org, data, file)
    if org is not None:
        issues = check_org(org, file)
    if issues:
        raise ParameterError(issues)
    return org


def load_app(path: str | Path, org: Org, org_path: str | Path = "org.yaml", label: str | None = None) -> App:
    """Load one application file and check it against the organization."""
    path = Path(path)
    file = label or str(path)
    data, issues = _read_yaml(path, file)
    if issues:
        raise ParameterError(issues)
    return validate_app_data(data, org, file, org_path)


def validate_app_data(data: dict, org: Org, file: str, org_path: str | Path = "org.yaml") -> App:
    """Validate application parameters already read (from a file or a form)."""
    foreign = _foreign(App, data, file, "an application")
    if foreign:
        raise ParameterError(foreign)
    app, issues = _validate(App, data, file, {"org": org, "org_file": str(org_path)})
    issues += check_app(data, org, file)
    if issues:
        raise ParameterError(issues)
    return app


def load_apps(paths: list[str | Path], org: Org, org_path: str | Path = "org.yaml") -> list[App]:
    """Load several application files, reporting the issues of all of them together."""
    apps, issues = [], []
    names: dict[str, str] = {}
    for path in paths:
        try:
            app = load_app(path, org, org_path)
        except ParameterError as exc:
            issues += exc.issues
            continue
        if app.name in names:
            issues.append(ParameterIssue(str(path), "name", app.name, f"is already the name of the application in {names[app.name]}"))
            continue
        names[app.name] = str(path)
        apps.append(app)
    if issues:
        raise ParameterError(issues)
    return apps
