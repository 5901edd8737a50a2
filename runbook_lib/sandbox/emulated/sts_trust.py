"""AssumeRole checks a trust policy's principal-tag conditions: the sandbox's stand-in for what moto's STS skips.

moto lets anyone assume any role. thoughtbot's deploy role trusts the Operations account
only under the condition ``aws:PrincipalTag/cluster.<name>.deploy = true``, which the
deploy project's role carries as a tag. Here, when a role's trust policy has such
conditions, AssumeRole evaluates them as AWS does for that case: the caller must be an
assumed role (or a user) whose tags satisfy every ``StringEquals`` principal-tag
condition of at least one Allow statement for ``sts:AssumeRole``; otherwise the call
fails with AWS's ``AccessDenied``. Trust policies without principal-tag conditions are
left to moto, unchanged (the sandbox's own Terraform roles rely on that).
"""

from __future__ import annotations

import json
from typing import Any

from moto.sts.exceptions import STSClientError

TAG_KEY = "aws:PrincipalTag/"


class AccessDenied(STSClientError):
    def __init__(self, message: str):
        super().__init__("AccessDenied", message)


def _statements(document: Any) -> list[dict]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    statements = (document or {}).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _tag_conditions(statement: dict) -> dict[str, list[str]] | None:
    """The statement's ``StringEquals`` principal-tag conditions, or None when it has conditions of another kind."""
    found: dict[str, list[str]] = {}
    for operator, pairs in (statement.get("Condition") or {}).items():
        for key, values in (pairs or {}).items():
            if operator != "StringEquals" or not key.startswith(TAG_KEY):
                return None
            found[key[len(TAG_KEY):]] = values if isinstance(values, list) else [values]
    return found


def _role(arn: str):
    from moto.iam.models import iam_backends

    parts = arn.split(":")
    if len(parts) < 6 or not parts[5].startswith("role/"):
        return None
    try:
        return iam_backends[parts[4]]["aws"].get_role(parts[5].rsplit("/", 1)[-1])
    except Exception:
        return None


def _tags(principal) -> dict[str, str]:
    tags = getattr(principal, "tags", None) or {}
    if isinstance(tags, dict):
        return {str(v.get("Key", k)) if isinstance(v, dict) else str(k): str(v.get("Value", "")) if isinstance(v, dict)
                else str(v) for k, v in tags.items()}
    return {t["Key"]: t["Value"] for t in tags}


def caller_tags(response) -> tuple[str, dict[str, str]]:
    """The calling principal's ARN and tags, from the request's access key."""
    access_key = response.get_access_key()
    user_id, arn, account = response.backend.get_caller_identity(access_key, response.region)
    if ":assumed-role/" in arn:
        name = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
        role = _role(f"arn:aws:iam::{account}:role/{name}")
        return arn, _tags(role) if role else {}
    return arn, {}


def check(response, role_arn: str) -> None:
    """Raise AccessDenied when the role's trust policy asks for principal tags the caller does not carry."""
    role = _role(role_arn or "")
    if role is None:
        return
    allows = [s for s in _statements(role.assume_role_policy_document) if s.get("Effect") == "Allow"]
    conditioned = [c for c in (_tag_conditions(s) for s in allows if s.get("Condition")) if c]
    if not conditioned:
        return   # nothing the stand-in evaluates: moto's behaviour
    if any(not s.get("Condition") for s in allows):
        return   # an unconditioned Allow lets the principals it names in (moto does not check principals)
    arn, tags = caller_tags(response)
    for conditions in conditioned:
        if all(tags.get(key) in values for key, values in conditions.items()):
            return
    raise AccessDenied(f"User: {arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")


def install() -> None:
    """Wrap moto's STS AssumeRole with the check (idempotent)."""
    from moto.sts.responses import TokenResponse

    original = TokenResponse.assume_role
    if getattr(original, "runbook_trust_checked", False):
        return

    def assume_role(self):
        check(self, self._get_param("RoleArn"))
        return original(self)

    assume_role.runbook_trust_checked = True
    TokenResponse.assume_role = assume_role
