"""Read parameters files and turn every problem into a :class:`ParameterIssue`.

A parameters file can be anything a user points at, so reading one is bounded:
at most MAX_FILE_BYTES, read before any parsing; no YAML aliases (none of the
shipped files needs one, and they are how a small file expands to gigabytes);
at most MAX_DEPTH levels of nesting and MAX_VALUES values. Every key must be
text and no text may hold a control character, checked on the whole file before
the models see it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .. import naming
from ..errors import MISSING, SHOWN_MAX, ParameterError, ParameterIssue, describe, printable
from .models import App, Org
from .rules import check_app, check_org

M = TypeVar("M", bound=BaseModel)

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 20      # the shipped files nest 7 levels deep at most
MAX_VALUES = 10_000  # the shipped files hold under 100 values each


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


class _Refused(yaml.YAMLError):
    """Valid YAML this loader does not take (an alias, too deep, too many values); ``mark`` says where."""

    def __init__(self, rule: str, mark):
        super().__init__(rule)
        self.rule, self.mark = rule, mark


class _Loader(yaml.SafeLoader):
    """A safe loader with bounds, that refuses a key given twice in one mapping (YAML forbids it)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._values = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(
                f"uses the YAML alias '*{printable(event.anchor)}'; parameters files take no aliases "
                "(write the value out in full)", event.start_mark,
            )
        self._values += 1
        if self._values > MAX_VALUES:
            raise _Refused(
                f"holds more than {MAX_VALUES:,} values, far more than a parameters file needs "
                "(is it the right file?)", self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    f"nests values more than {MAX_DEPTH} levels deep, far more than a parameters file needs",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError):  # a date like 2020-13-01, an integer of 5,000 digits
            kind = {"int": "number", "timestamp": "date"}.get(node.tag.rsplit(":", 1)[-1], "value")
            raise yaml.constructor.ConstructorError(
                None, None,
                f"cannot read the value {describe(node.value)}: YAML takes it for a {kind} and it is not a valid one; "
                "quote it to keep it as text",
                node.start_mark,
            ) from None

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a list or a mapping is used as a key (keys are names)", key_node.start_mark,
                ) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {describe(key)} is given twice (first on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _at(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"


def _read_yaml(path: Path, file: str) -> tuple[object, list[ParameterIssue]]:
    if not path.is_file():
        return None, [ParameterIssue(file, "", MISSING, "does not exist or is not a file")]
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [ParameterIssue(file, "", MISSING, f"cannot be read: {exc.strerror}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [ParameterIssue(
            file, "", MISSING,
            f"is larger than {MAX_FILE_BYTES:,} bytes, the most a parameters file may be (is it the right file?)",
        )]
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_Loader)
    except _Refused as exc:
        return None, [ParameterIssue(file, "", MISSING, f"is refused at {_at(exc.mark)}: it {exc.rule}")]
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        where = _at(getattr(exc, "problem_mark", None))
        # The parser's sentence quotes the file (a character, a tag): escaped, and cut
        # long enough to keep the sentence around a value that describe() has cut.
        return None, [ParameterIssue(file, "", MISSING, f"is not valid YAML at {where}: {printable(problem, 3 * SHOWN_MAX)}")]
    except UnicodeDecodeError:
        return None, [ParameterIssue(file, "", MISSING, "is not UTF-8 text")]
    if not isinstance(data, dict):
        return None, [ParameterIssue(file, "", MISSING, "must hold a YAML mapping of fields at the top level")]
    return data, []


def _key_kind(key: object) -> str:
    if isinstance(key, bool):
        return "a boolean (YAML reads yes, no, on, off, true and false so)"
    if isinstance(key, (int, float)):
        return "a number"
    if key is None:
        return "null (YAML reads ~, null and nothing so)"
    return f"a {type(key).__name__}"


def _screen(data: dict, file: str) -> tuple[dict, list[ParameterIssue]]:
    """Every key must be text, and no text may hold a control character, anywhere in the file.

    Returns the data without the keys that are not text (later passes read keys
    as names), and one issue per broken rule. Field paths are written as
    :func:`field_path` writes them, so callers can drop later issues about the
    same field.
    """
    issues: list[ParameterIssue] = []

    def check_text(text: str, field: str) -> None:
        found = naming.control_character(text)
        if found:
            position, character = found
            issues.append(ParameterIssue(
                file, field, text,
                f"holds the control character {character!r} (U+{ord(character):04X}) at character {position + 1}; "
                "text in a parameters file stays on one line, without control characters",
            ))

    def visit(value: object, path: str) -> object:
        if isinstance(value, dict):
            kept = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    issues.append(ParameterIssue(
                        file, f"{path} (key)" if path else "(top-level key)", key,
                        f"is {_key_kind(key)}, but keys are names: quote it",
                    ))
                    continue
                where = f"{path}.{key}" if path else key
                check_text(key, f"{where} (key)")
                kept[key] = visit(item, where)
            return kept
        if isinstance(value, list):
            return [visit(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, str):
            check_text(value, path)
        return value

    return visit(data, ""), issues


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


def _after(first: list[ParameterIssue], later: list[ParameterIssue]) -> list[ParameterIssue]:
    """``first`` and then the ``later`` issues about other fields (one problem, one issue)."""
    fields = {issue.field for issue in first}
    return first + [issue for issue in later if issue.field not in fields]


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
    data, screened = _screen(data, file)
    org, issues = _validate(Org, data, file)
    if org is not None:
        issues = check_org(org, file)
    issues = _after(screened, issues)
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
    data, screened = _screen(data, file)
    app, issues = _validate(App, data, file, {"org": org, "org_file": str(org_path)})
    issues = _after(screened, issues + check_app(data, org, file))
    if issues:
        raise ParameterError(issues)
    return app


def load_apps(paths: list[str | Path], org: Org, org_path: str | Path = "org.yaml") -> list[App]:
    """Load several application files, reporting the issues of all of them together."""
    apps, issues = [], []
    names: dict[str, str] = {}
    # An application's buildspecs are written into its source and manifests
    # repositories at fixed paths: two applications sharing one repository
    # would overwrite each other's buildspec there (and in the render folder).
    repositories: dict[tuple[str, str], tuple[str, str]] = {}   # (field, owner/name lowercased) -> (app, file)
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
        shares = False
        for field, kind in (("source_repository", "source"), ("manifests_repository", "manifests")):
            repository = getattr(app, field)
            other = repositories.setdefault((field, repository.lower()), (app.name, str(path)))
            if other[0] != app.name:
                shares = True
                issues.append(ParameterIssue(
                    str(path), field, repository,
                    f"is already the {kind} repository of application '{other[0]}' ({other[1]}); application "
                    f"'{app.name}' needs its own, or its {kind} buildspec would overwrite the other's",
                ))
        if not shares:
            apps.append(app)
    if issues:
        raise ParameterError(issues)
    return apps
