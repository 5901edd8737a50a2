"""Plan summaries: what a saved plan will create, update, delete or replace.

Built from the messages ``terraform plan -json -out=PLANFILE`` prints while it writes
the plan (:func:`summary_from_stream`), or, when those do not carry everything the
summary shows (an update's changed attributes), from ``terraform show -json PLANFILE``
(:func:`summarize`). Values marked sensitive by Terraform never reach the summary;
they read ``(sensitive)``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

SENSITIVE = "(sensitive)"
_ACTION_NAMES = {
    ("create",): "create",
    ("update",): "update",
    ("delete",): "delete",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("read",): "read",
    ("no-op",): "no-op",
    ("forget",): "forget",
}
DESTRUCTIVE = {"delete", "replace", "forget"}
# Why Terraform deletes or replaces something (``action_reason`` in ``show -json``), in words.
_REASONS = {
    "replace_because_tainted": "tainted: an earlier apply did not finish creating it",
    "replace_because_cannot_update": "a changed argument cannot be updated in place",
    "replace_by_request": "replacement was requested",
    "replace_by_triggers": "a replace_triggered_by reference changed",
    "delete_because_no_resource_config": "no longer in the configuration",
    "delete_because_no_module": "its module is no longer in the configuration",
    "delete_because_count_index": "its count index is gone",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_wrong_repetition": "count or for_each was added or removed",
    "delete_because_no_move_target": "the target of its moved block does not exist",
}


# ``plan -json`` names actions and reasons differently from ``show -json``; these are the ones
# whose summary needs nothing but the stream, in ``show -json``'s words. Anything else (an
# update, whose changed attributes only ``show -json`` has, or a name not listed) goes to ``show -json``.
_STREAM_ACTIONS = {"create": "create", "delete": "delete", "replace": "replace", "remove": "forget",
                   "noop": "no-op", "move": "no-op", "import": "no-op"}
_STREAM_OUTPUT_ACTIONS = {**_STREAM_ACTIONS, "update": "update"}
_STREAM_REASONS = {
    "": "",
    "tainted": "replace_because_tainted",
    "cannot_update": "replace_because_cannot_update",
    "requested": "replace_by_request",
    "replace_triggered_by": "replace_by_triggers",
    **{name: name for name in _REASONS if name.startswith("delete_because_")},
}


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class AttributeChange:
    name: str
    before: str
    after: str


@dataclass(frozen=True)
class ResourceChange:
    address: str
    type: str
    action: str
    attributes: tuple[AttributeChange, ...] = ()
    reason: str = ""          # Terraform's action_reason, e.g. replace_because_tainted
    importing: str = ""       # the import ID, when an import block brings the resource into the state

    @property
    def why(self) -> str:
        return _REASONS.get(self.reason, self.reason.replace("_", " "))


@dataclass(frozen=True)
class PlanSummary:
    root: str                 # e.g. "ci/web"
    workdir: str              # absolute path of the root module the plan belongs to
    plan_file: str
    digest: str               # sha256 of the plan file when it was summarized
    changes: tuple[ResourceChange, ...]
    output_changes: dict[str, str] = field(default_factory=dict)

    def by_action(self, action: str) -> list[ResourceChange]:
        return [c for c in self.changes if c.action == action]

    @property
    def counts(self) -> dict[str, int]:
        return {a: len(self.by_action(a)) for a in ("create", "update", "replace", "delete")}

    @property
    def destructive(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.action in DESTRUCTIVE]

    @property
    def imports(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.importing]

    @property
    def is_empty(self) -> bool:
        return not any(c.action not in ("no-op", "read") or c.importing for c in self.changes) and not any(
            a != "no-op" for a in self.output_changes.values()
        )

    def headline(self) -> str:
        c = self.counts
        if self.is_empty:
            return f"{self.root}: no changes"
        imported = f"{len(self.imports)} to import, " if self.imports else ""
        return (f"{self.root}: {imported}{c['create']} to create, {c['update']} to update, "
                f"{c['replace']} to replace, {c['delete']} to delete")


def _short(value) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def _attribute_changes(change: dict) -> tuple[AttributeChange, ...]:
    before = change.get("before") or {}
    after = change.get("after") or {}
    before_sensitive = change.get("before_sensitive") or {}
    after_sensitive = change.get("after_sensitive") or {}
    unknown = change.get("after_unknown") or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ()
    out = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name) and not unknown.get(name):
            continue
        hidden = bool(before_sensitive.get(name)) if isinstance(before_sensitive, dict) else bool(before_sensitive)
        hidden_after = bool(after_sensitive.get(name)) if isinstance(after_sensitive, dict) else bool(after_sensitive)
        b = SENSITIVE if hidden else _short(before.get(name))
        a = "(known after apply)" if unknown.get(name) else (SENSITIVE if hidden_after else _short(after.get(name)))
        out.append(AttributeChange(name, b, a))
    return tuple(out)


def _does_something(change: ResourceChange) -> bool:
    return change.action != "no-op" or bool(change.importing)


def _summary(root: str, workdir: Path, plan_file: Path, changes: list[ResourceChange],
             outputs: dict[str, str]) -> PlanSummary:
    """The summary of the plan saved at ``plan_file``, digest taken now.

    Changes in address order (the stream gives them as planning finishes them); resources
    left as they are are not listed.
    """
    doing = sorted((c for c in changes if _does_something(c)), key=lambda c: c.address)
    return PlanSummary(root, str(Path(workdir).resolve()), str(plan_file), file_digest(plan_file), tuple(doing), outputs)


def summarize(show: dict, *, root: str, workdir: Path, plan_file: Path) -> PlanSummary:
    """The summary from ``terraform show -json PLANFILE``."""
    changes = []
    for rc in show.get("resource_changes", []):
        if rc.get("mode") == "data":
            continue
        actions = tuple(rc["change"]["actions"])
        action = _ACTION_NAMES.get(actions, "/".join(actions))
        attributes = _attribute_changes(rc["change"]) if action == "update" else ()
        importing = str((rc["change"].get("importing") or {}).get("id") or "")
        changes.append(ResourceChange(rc["address"], rc["type"], action, attributes, rc.get("action_reason", ""),
                                      importing))
    outputs = {
        name: _ACTION_NAMES.get(tuple(oc["actions"]), "/".join(oc["actions"]))
        for name, oc in (show.get("output_changes") or {}).items()
    }
    return _summary(root, workdir, plan_file, changes, outputs)


def summary_from_stream(messages: list[dict], *, root: str, workdir: Path, plan_file: Path) -> PlanSummary | None:
    """The summary from the messages of ``terraform plan -json``, or None when they do not carry it all.

    None when the plan changes a resource in place (only ``show -json`` has the attributes
    that change), names an action or reason not known here, never said it was complete
    (no ``change_summary``), or when its own counts disagree with the changes it listed.
    """
    changes, outputs, counted = [], {}, None
    for message in messages:
        kind = message.get("type")
        if kind == "planned_change":
            change, resource = message["change"], message["change"]["resource"]
            if resource["resource"].startswith("data."):
                continue
            action = _STREAM_ACTIONS.get(change["action"])
            reason = _STREAM_REASONS.get(change.get("reason", ""))
            if action is None or reason is None:
                return None
            importing = str((change.get("importing") or {}).get("id") or "")
            changes.append(ResourceChange(resource["addr"], resource["resource_type"], action, (), reason, importing))
        elif kind == "outputs":
            for name, output in message["outputs"].items():
                action = _STREAM_OUTPUT_ACTIONS.get(output.get("action", ""))
                if action is None:
                    return None
                outputs[name] = action
        elif kind == "change_summary":
            counted = message["changes"]
    if counted is None:
        return None
    mine = {a: sum(c.action == a for c in changes) for a in ("create", "delete", "replace")}
    if (counted.get("add"), counted.get("remove"), counted.get("change", 0), counted.get("import", 0)) != (
            mine["create"] + mine["replace"], mine["delete"] + mine["replace"], 0, sum(bool(c.importing) for c in changes)):
        return None
    return _summary(root, workdir, plan_file, changes, outputs)


def table(summary: PlanSummary):
    """A rich Table of the changes that do something (creates, updates, replacements, deletes)."""
    from rich.table import Table
    from rich.text import Text

    out = Table(title=Text(f"Plan: {summary.headline()}"))   # every cell a Text: addresses and values are never markup
    out.add_column("Action", no_wrap=True)
    out.add_column("Address")
    out.add_column("Details")
    for c in _doing(summary):
        style = "bold red" if c.action in DESTRUCTIVE else ""
        out.add_row(Text(_action(c), style=style), Text(c.address), Text(_details(c)))
    return out


# A plan up to this many changes is shown whole, for the person approving it; past it, creates fold away.
PLAN_ROWS_SHOWN = 30
_ORDER = {"delete": 0, "replace": 1, "forget": 1, "update": 2, "create": 3}


def _doing(summary: PlanSummary) -> list[ResourceChange]:
    """The changes that do something, deletes and replacements first."""
    return [c for c in sorted(summary.changes, key=lambda c: (_ORDER.get(c.action, 9), c.address))
            if c.action not in ("no-op", "read") or c.importing]


def _action(c: ResourceChange) -> str:
    if not c.importing:
        return c.action
    return "import" if c.action == "no-op" else f"import, {c.action}"


def _details(c: ResourceChange) -> str:
    details = c.why or "; ".join(f"{a.name}: {a.before} -> {a.after}" for a in c.attributes[:4])
    if c.importing:
        return f"import ID {c.importing}" + (f"; {details}" if details else "")
    return details


def to_html(summary: PlanSummary) -> str:
    """An HTML table of the plan: deletes, replacements and updates always shown; a long list of creates folds away."""
    from .. import htmltable as h

    def row(c: ResourceChange) -> list[str]:
        return [h.status(_action(c)), h.ident(c.address), h.text(_details(c))]

    doing = _doing(summary)
    caption = h.text(f"Plan: {summary.headline()}")
    if not doing:
        return f"<p><b>{caption}</b></p>"
    return h.table(caption, ("Action", "Address", "Details"), [row(c) for c in doing if c.action != "create"],
                   [row(c) for c in doing if c.action == "create"], "to create", long=PLAN_ROWS_SHOWN)


def shown(summary: PlanSummary):
    """The plan as Jupyter shows it: the HTML table, with a text form beside it."""
    from ..htmltable import Shown

    lines = [f"Plan: {summary.headline()}"] + [f"  {_action(c):<8} {c.address}" + (f"  ({_details(c)})" if _details(c) else "")
                                               for c in _doing(summary)]
    return Shown(to_html(summary), "\n".join(lines))
