"""Plan summaries: what a saved plan will create, update, delete or replace.

Built from ``terraform show -json PLANFILE``. Values marked sensitive by
Terraform never reach the summary; they read ``(sensitive)``.
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
    def is_empty(self) -> bool:
        return not any(c.action not in ("no-op", "read") for c in self.changes) and not any(
            a != "no-op" for a in self.output_changes.values()
        )

    def headline(self) -> str:
        c = self.counts
        if self.is_empty:
            return f"{self.root}: no changes"
        return (f"{self.root}: {c['create']} to create, {c['update']} to update, "
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


def summarize(show: dict, *, root: str, workdir: Path, plan_file: Path) -> PlanSummary:
    changes = []
    for rc in show.get("resource_changes", []):
        if rc.get("mode") == "data":
            continue
        actions = tuple(rc["change"]["actions"])
        action = _ACTION_NAMES.get(actions, "/".join(actions))
        attributes = _attribute_changes(rc["change"]) if action == "update" else ()
        changes.append(ResourceChange(rc["address"], rc["type"], action, attributes, rc.get("action_reason", "")))
    outputs = {
        name: _ACTION_NAMES.get(tuple(oc["actions"]), "/".join(oc["actions"]))
        for name, oc in (show.get("output_changes") or {}).items()
    }
    return PlanSummary(root, str(Path(workdir).resolve()), str(plan_file), file_digest(plan_file),
                       tuple(changes), outputs)


def table(summary: PlanSummary):
    """A rich Table of the changes that do something (creates, updates, replacements, deletes)."""
    from rich.table import Table

    out = Table(title=f"Plan: {summary.headline()}")
    out.add_column("Action", no_wrap=True)
    out.add_column("Address")
    out.add_column("Details")
    order = {"delete": 0, "replace": 1, "update": 2, "create": 3}
    for c in sorted(summary.changes, key=lambda c: (order.get(c.action, 9), c.address)):
        if c.action in ("no-op", "read"):
            continue
        details = c.why or "; ".join(f"{a.name}: {a.before} -> {a.after}" for a in c.attributes[:4])
        style = "bold red" if c.action in DESTRUCTIVE else ""
        out.add_row(f"[{style}]{c.action}[/]" if style else c.action, c.address, details)
    return out
