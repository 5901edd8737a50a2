"""Read rendered Terraform back with python-hcl2, into plain Python values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import hcl2

_OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
MODULE_REF = re.compile(r"module\.([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class ParsedRoot:
    path: Path
    modules: dict[str, dict]        # module block name -> its attributes
    strings: list[tuple[str, str]]  # (file, every string value) for reference scans
    backend: dict
    providers: dict[str, dict]      # "aws" or "aws.<alias>" -> the provider block's attributes


def _walk_strings(value, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.append(str(k))
            _walk_strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _walk_strings(v, out)


def parse_root(path: Path) -> ParsedRoot:
    """Parse every ``*.tf`` in ``path``; a syntax error raises ValueError naming the file."""
    modules: dict[str, dict] = {}
    strings: list[tuple[str, str]] = []
    backend: dict = {}
    providers: dict[str, dict] = {}
    for tf in sorted(path.glob("*.tf")):
        try:
            data = hcl2.loads(tf.read_text(encoding="utf-8"), serialization_options=_OPTIONS)
        except Exception as exc:  # python-hcl2 raises lark errors of several types
            raise ValueError(f"{tf}: cannot be parsed as HCL: {str(exc).splitlines()[0]}") from exc
        for block in data.get("module", []):
            modules.update(block)
        for block in data.get("provider", []):
            for name, attrs in block.items():
                providers[f"{name}.{attrs['alias']}" if "alias" in attrs else name] = attrs
        for block in data.get("terraform", []):
            for b in block.get("backend", []):
                backend.update(b)
        found: list[str] = []
        _walk_strings(data, found)
        strings += [(tf.name, s) for s in found]
    return ParsedRoot(path, modules, strings, backend, providers)


def literal(value) -> object:
    """A parsed value, or None when it is an expression (``${...}``)."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return None
    return value
