"""A small HCL writer whose output already satisfies ``terraform fmt``.

Root modules are built as trees of :class:`Block`, :class:`Attr`,
:class:`Comment` and :data:`BLANK`, then written by :func:`dumps`. Values are
Python strings (quoted), bools, ints, ``None``, lists, dicts, or :class:`Expr`
for a Terraform expression written as is. Like ``terraform fmt``, consecutive
one-line attributes have their ``=`` aligned; a multi-line value ends the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

INDENT = "  "
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_ONE_LINE_LIST_MAX = 100


class Expr(str):
    """A Terraform expression, written without quotes (``module.x.arn``)."""


@dataclass(frozen=True)
class Attr:
    name: str
    value: object


@dataclass(frozen=True)
class Comment:
    text: str


@dataclass(frozen=True)
class Block:
    type: str
    labels: tuple[str, ...] = ()
    body: list["Item"] = field(default_factory=list)


class _Blank:
    pass


BLANK = _Blank()
Item = Union[Attr, Block, Comment, _Blank]


def quote(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("${", "$${")
        .replace("%{", "%%{")
    )
    return f'"{escaped}"'


def _key(name: str) -> str:
    return name if _IDENT.fullmatch(name) else quote(name)


def value_lines(value: object, indent: str) -> list[str]:
    """The value as lines; the first line has no indent, later ones carry ``indent``."""
    if isinstance(value, Expr):
        return [str(value)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if value is None:
        return ["null"]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, str):
        return [quote(value)]
    if isinstance(value, (list, tuple)):
        if not value:
            return ["[]"]
        parts = [value_lines(v, indent + INDENT) for v in value]
        if all(len(p) == 1 for p in parts):
            one = "[" + ", ".join(p[0] for p in parts) + "]"
            if len(one) <= _ONE_LINE_LIST_MAX:
                return [one]
        lines = ["["]
        for p in parts:
            lines.append(indent + INDENT + p[0])
            lines.extend(p[1:])
            lines[-1] += ","
        lines.append(indent + "]")
        return lines
    if isinstance(value, dict):
        if not value:
            return ["{}"]
        attrs = [Attr(_key(k), v) for k, v in value.items()]
        return ["{", *_body_lines(attrs, indent + INDENT), indent + "}"]
    raise TypeError(f"cannot write {type(value).__name__} as HCL")


def _body_lines(items: list[Item], indent: str) -> list[str]:
    lines: list[str] = []
    run: list[tuple[str, str]] = []   # one-line attributes waiting to be aligned

    def flush() -> None:
        width = max((len(name) for name, _ in run), default=0)
        for name, text in run:
            lines.append(f"{indent}{name.ljust(width)} = {text}")
        run.clear()

    for item in items:
        if isinstance(item, Attr):
            rendered = value_lines(item.value, indent)
            if len(rendered) == 1:
                run.append((item.name, rendered[0]))
                continue
            flush()
            lines.append(f"{indent}{item.name} = {rendered[0]}")
            lines.extend(rendered[1:])
            continue
        flush()
        if isinstance(item, _Blank):
            lines.append("")
        elif isinstance(item, Comment):
            lines.extend(f"{indent}# {t}".rstrip() for t in item.text.splitlines())
        elif isinstance(item, Block):
            lines.extend(_block_lines(item, indent))
    flush()
    return lines


def _block_lines(block: Block, indent: str) -> list[str]:
    head = " ".join([block.type, *(quote(label) for label in block.labels)])
    if not block.body:
        return [f"{indent}{head} {{", f"{indent}}}"]
    return [f"{indent}{head} {{", *_body_lines(block.body, indent + INDENT), f"{indent}}}"]


def dumps(items: list[Item]) -> str:
    """Write top-level items, one blank line between blocks."""
    out: list[str] = []
    previous: Item | None = None
    for item in items:
        if previous is not None and (isinstance(item, Block) or isinstance(previous, Block)):
            if out and out[-1] != "" and not isinstance(item, _Blank):
                out.append("")
        out.extend(_body_lines([item], ""))
        previous = item
    return "\n".join(out).rstrip("\n") + "\n"
