"""CodeBuild errors for the sandbox's stand-in operations: moto's own, with AWS's codes."""

from __future__ import annotations

from moto.codebuild.exceptions import (  # noqa: F401  (re-exported: one place to import them from)
    InvalidInputException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
