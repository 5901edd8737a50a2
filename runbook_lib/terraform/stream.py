"""Terraform's machine-readable output (``-json``): one message per line, and each in words.

A command run with ``-json`` prints JSON objects, one per line, on stdout, errors and
warnings included (``diagnostic`` messages). The runner keeps the messages for the
caller and shows, logs and puts in errors the words of each, so that a person, and
:func:`runbook_lib.terraform.errors.explain`, read what Terraform's own text would say.
"""

from __future__ import annotations

import json


def read_message(line: str) -> dict | None:
    """The message on one line of ``-json`` output; None for a line that is not one."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) and "@message" in message else None


def words(message: dict) -> str:
    """A message as Terraform's text would put it; a diagnostic with its detail and where it was raised."""
    diagnostic = message.get("diagnostic")
    if message.get("type") != "diagnostic" or not isinstance(diagnostic, dict):
        return str(message["@message"])
    label = "Error" if diagnostic.get("severity") == "error" else "Warning"
    lines = [f"{label}: {diagnostic.get('summary', '')}"]
    if diagnostic.get("address"):
        lines.append(f"  with {diagnostic['address']},")
    if diagnostic.get("detail"):
        lines += ["", str(diagnostic["detail"])]
    return "\n".join(lines)
