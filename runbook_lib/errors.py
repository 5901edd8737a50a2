"""One error family for the project, so callers can catch what they expect."""

from __future__ import annotations

from dataclasses import dataclass


class RunbookError(Exception):
    """Base class for every error the runbook reports to a user."""


@dataclass(frozen=True)
class ParameterIssue:
    """One broken rule in a parameters file."""

    file: str
    field: str
    value: object
    rule: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        if self.value is _MISSING:
            return f"{where}: {self.rule}"
        return f"{where} = {self.value!r} {self.rule}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
MISSING = _MISSING


class ParameterError(RunbookError):
    """Raised with every issue found in one or more parameters files."""

    def __init__(self, issues: list[ParameterIssue]):
        self.issues = list(issues)
        count = len(self.issues)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the parameters:"]
        lines += [f"  - {issue}" for issue in self.issues]
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
