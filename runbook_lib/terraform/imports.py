"""Adopt resources an interrupted apply created but never recorded: Terraform ``import`` blocks.

When an apply is killed after AWS created a resource and before Terraform wrote it to
the state, the next apply fails with "already exists". :func:`leftovers` reads those
errors; :func:`import_file_text` writes one ``import`` block (Terraform >= 1.5) per
resource whose import ID it can work out; the engine puts them in ``IMPORTS_FILE`` in
the root, plans again (the plan shows "to import") and applies that plan through the
gate like any other. The file is deleted once the plan is applied or abandoned.

:func:`is_import_file` recognises exactly what this module writes, so a resource or a
provider hidden in that file is refused like any other file the runbook did not render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..naming import iam_arn
from ..render.hcl import quote

IMPORTS_FILE = "runbook_imports.tf"
_HEADER = ("# Written by the runbook: resources an interrupted apply created in AWS but never recorded\n"
           "# in the state. Applying the plan that imports them deletes this file.\n")

# AWS error codes for "what you are creating is already there" (IAM, CloudWatch Logs and
# CodeBuild, ECR, S3 in most regions, SSM, KMS aliases, CodePipeline and others).
ALREADY_EXISTS = re.compile(r"\b(EntityAlreadyExists|ResourceAlreadyExistsException|RepositoryAlreadyExistsException|"
                            r"BucketAlreadyOwnedByYou|ParameterAlreadyExists|AlreadyExistsException|"
                            r"PipelineNameInUseException)\b"
                            # the sandbox emulator's wording for a pipeline name in use
                            r"|A pipeline with the name '[^']*' already exists")

# How each resource type is imported, from the name the "creating ... (NAME)" error shows
# and the account the resource lives in. Types not listed are left to the person.
_IMPORT_ID: dict[str, Callable[[str, str, str], str]] = {
    "aws_iam_role": lambda name, account, region: name,
    "aws_iam_policy": lambda name, account, region: iam_arn(region, account, f"policy/{name}"),
    "aws_iam_instance_profile": lambda name, account, region: name,
    "aws_codebuild_project": lambda name, account, region: name,
    "aws_codepipeline": lambda name, account, region: name,
    "aws_ecr_repository": lambda name, account, region: name,
    "aws_s3_bucket": lambda name, account, region: name,
    "aws_ssm_parameter": lambda name, account, region: name,
    "aws_cloudwatch_log_group": lambda name, account, region: name,
}

_KEY = r'\[(?:"[A-Za-z0-9_./:@+=,-]*"|\d+)\]'
# A resource instance address as Terraform prints it: module.a["k"].module.b.aws_x.y[0]
ADDRESS = re.compile(rf"^(?:module\.[A-Za-z_][A-Za-z0-9_-]*(?:{_KEY})?\.)*"
                     rf"(?P<type>aws_[a-z0-9_]+)\.[A-Za-z_][A-Za-z0-9_-]*(?:{_KEY})?$")
_BLOCK = (r'import \{\n  to = (?P<to>[^\n]+)\n  id = "(?P<id>(?:[^"\\\n$%]|\\.)*)"\n\}\n')
_FILE = re.compile(re.escape(_HEADER) + rf"(?:\n{_BLOCK})+")


@dataclass(frozen=True)
class Leftover:
    """A resource the apply tried to create that AWS says is already there."""

    address: str     # "ADDRESS" when the error did not say
    kind: str        # "IAM Role"; "resource" when the error did not say
    name: str        # the name in "creating IAM Role (NAME)"; "ID" when the error did not say
    code: str        # the AWS error code (or the emulator's wording)

    @property
    def type(self) -> str | None:
        match = ADDRESS.match(self.address)
        return match.group("type") if match else None

    def import_id(self, account: str, region: str = "us-east-1") -> str | None:
        rule = _IMPORT_ID.get(self.type or "")
        return rule(self.name, account, region) if rule and self.name != "ID" else None


def leftovers(output: str) -> list[Leftover]:
    """Every Terraform error in ``output`` that says a resource being created already exists.

    Reads the AWS provider's format, with or without the boxes Terraform draws around errors:
        Error: creating IAM Role (acme-worker-deploy): ... EntityAlreadyExists: Role with name ... already exists.
          with module.deploy_project.aws_iam_role.codebuild,
    """
    found = []
    for block in re.split(r"(?m)^(?=[ │]*Error: )", output):
        code = ALREADY_EXISTS.search(block)
        if not code:
            continue
        created = re.search(r"Error: creating (.+?) \(([^()]+)\):", block)
        address = re.search(r"^[ │]*with (.+?),[ ]*$", block, flags=re.M)
        found.append(Leftover(address.group(1) if address else "ADDRESS", created.group(1) if created else "resource",
                              created.group(2) if created else "ID", code.group(1) or "already exists"))
    return found


def import_file_text(found: list[Leftover], account_of: Callable[[str], str], region: str = "us-east-1") -> str | None:
    """The import blocks for ``found``, or None when any of them cannot be matched to an import ID.

    ``account_of(address)`` names the AWS account the resource at ``address`` lives in; ``region``
    gives ARNs their partition.
    """
    blocks = []
    for leftover in found:
        import_id = leftover.import_id(account_of(leftover.address), region)
        if import_id is None:
            return None
        blocks.append(f"import {{\n  to = {leftover.address}\n  id = {quote(import_id)}\n}}\n")
    text = _HEADER + "".join(f"\n{block}" for block in dict.fromkeys(blocks))
    if not is_import_file(text):   # an address or ID this module would not read back as its own
        return None
    return text


def is_import_file(text: str) -> bool:
    """True when ``text`` is exactly what :func:`import_file_text` writes: import blocks and nothing else."""
    match = _FILE.fullmatch(text)
    return bool(match) and all(ADDRESS.match(to) for to in re.findall(r"^  to = (.+)$", text, flags=re.M))
