"""One error family for the project, so callers can catch what they expect."""

from __future__ import annotations

from dataclasses import dataclass


class RunbookError(Exception):
    """Base class for every error the runbook reports to a user."""


# How much of a value a message may show. A parameters file can be anything a
# user points at (a 1 MB string, a Docker config.json with tokens), so a message
# shows at most this many characters of a value, and never the inside of a
# mapping or a list: only what it is and how big.
SHOWN_MAX = 100
# How many issues a message lists; ParameterError.issues keeps them all.
LISTED_MAX = 50


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _shorten(text: str, limit: int = SHOWN_MAX) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({_plural(len(text), 'character')})"


def _kind(value: object) -> str:
    """What a value is and how big, without its content."""
    if isinstance(value, dict):
        return f"<mapping of {_plural(len(value), 'key')}>"
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"<list of {_plural(len(value), 'item')}>"
    if isinstance(value, str):
        return f"<text of {_plural(len(value), 'character')}>"
    if isinstance(value, bytes):
        return f"<binary of {_plural(len(value), 'byte')}>"
    if isinstance(value, bool):
        return "<boolean>"
    if isinstance(value, (int, float)):
        return "<number>"
    if value is None:
        return "<null>"
    return f"<{type(value).__name__}>"


def describe(value: object, conceal: bool = False) -> str:
    """A value as a message may show it.

    Mappings and lists that are not empty, and every value when ``conceal`` is
    set, show only their kind and size. Anything else is shown as Python writes it (quotes, control
    characters escaped), cut to SHOWN_MAX characters with its full length.
    """
    if isinstance(value, (dict, list, tuple, set, frozenset)) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    if conceal or isinstance(value, (dict, list, tuple, set, frozenset)):
        return _kind(value)
    if isinstance(value, str) and len(value) > SHOWN_MAX:
        return f"{value[:SHOWN_MAX]!r}... ({_plural(len(value), 'character')})"
    return _shorten(repr(value))


def printable(text: str, limit: int = SHOWN_MAX) -> str:
    """Text from a file (a key in a field path, a YAML parser's complaint) with control characters escaped, cut to ``limit``."""
    if not text.isprintable():
        text = repr(text)[1:-1]
    return _shorten(text, limit)


@dataclass(frozen=True)
class ParameterIssue:
    """One broken rule in a parameters file.

    ``conceal`` hides the value behind its kind and size: set it where the value
    is not ours to show (a field we do not know may hold anything, such as the
    credentials of a Docker config.json given by mistake).
    """

    file: str
    field: str
    value: object
    rule: str
    conceal: bool = False

    def shown_value(self) -> str:
        return describe(self.value, self.conceal)

    def __str__(self) -> str:
        where = f"{self.file}: {printable(self.field)}" if self.field else self.file
        if self.value is _MISSING:
            return f"{where}: {self.rule}"
        return f"{where} = {self.shown_value()} {self.rule}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
MISSING = _MISSING


class ParameterError(RunbookError):
    """Raised with every issue found in one or more parameters files.

    The message lists the first LISTED_MAX issues and counts the rest.
    """

    def __init__(self, issues: list[ParameterIssue]):
        self.issues = list(issues)
        count = len(self.issues)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the parameters:"]
        lines += [f"  - {issue}" for issue in self.issues[:LISTED_MAX]]
        if count > LISTED_MAX:
            lines.append(f"  ... and {_plural(count - LISTED_MAX, 'more problem')} (fix these first)")
        super().__init__("\n".join(lines))


class RenderError(RunbookError):
    """Rendering could not write its files (hand-edited files, unwritable dir)."""


class ValidationFailed(RunbookError):
    """Static validation found problems in the rendered files."""


class TerraformError(RunbookError):
    """A Terraform command failed; carries the command, exit code and stderr."""

    def __init__(self, message: str, command: list[str] | None = None,
                 returncode: int | None = None, stderr: str = ""):
        self.command = command or []
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(message)


class SandboxError(RunbookError):
    """The embedded AWS sandbox could not start, answer or stop."""


class RecordError(RunbookError):
    """A job's record file is missing, unreadable or of another schema version."""
