"""CodeStar Connections errors, with the codes AWS answers (the sandbox's stand-in)."""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class ResourceNotFoundException(ServiceException):
    code = "ResourceNotFoundException"


class ValidationException(ServiceException):
    """AWS's answer to a request that breaks the service model's constraints (length, enum)."""

    code = "ValidationException"


class LimitExceededException(ServiceException):
    code = "LimitExceededException"
