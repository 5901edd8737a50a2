"""Small, in-process fixes to moto that the sandbox needs.

The sandbox runs Terraform and the real ``hashicorp/aws`` provider against moto
in server mode. Where moto disagrees with AWS in a way that breaks the provider,
this module patches the running moto process; the Terraform modules stay faithful
to upstream.

Each patch is one entry in ``PATCHES``: what upstream (moto) bug it works around,
what it changes, and a ``bug_present`` probe that runs the *unpatched* moto code
in-process and says whether the bug is still there. The tests call every probe
and fail once moto fixes a bug, so the patch can be dropped.

``apply()`` is idempotent; ``unpatched()`` restores moto's own code for the
duration of a ``with`` block (the probes use it); ``revert()`` undoes ``apply()``.
The server process calls ``apply()`` before it starts serving::

    from runbook_lib.sandbox import moto_patches
    moto_patches.apply()
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

#: The moto release these patches were written against and checked on.
MOTO_VERSION_CHECKED = "5.2.5"

_PROBE_ACCOUNT = "123456789012"
_PROBE_REGION = "us-east-1"


@dataclass(frozen=True)
class Patch:
    """One replacement of one attribute of a moto module or class."""

    name: str
    bug: str
    fix: str
    owner: Callable[[], Any]
    attribute: str
    replacement: Callable[[Any], Any]
    bug_present: Callable[[], bool]


# Originals keyed by patch name; present only while the patch is applied.
_originals: dict[str, Any] = {}
_replacements: dict[str, Any] = {}


# --- patch 1: CodePipeline timestamps -------------------------------------------------


def _codepipeline_class() -> Any:
    from moto.codepipeline import models

    return models.CodePipeline


def _codepipeline_metadata(original: Any) -> Any:
    from moto.core.utils import unix_time

    @property  # type: ignore[misc]
    def metadata(self: Any) -> dict[str, Any]:
        return {
            "pipelineArn": self._arn,
            "created": unix_time(self._created),
            "updated": unix_time(self._updated),
        }

    return metadata


def _pipeline_metadata_created() -> Any:
    """Create a pipeline in an in-process moto, GetPipeline, and return the raw
    JSON value of ``metadata.created`` as moto put it on the wire."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        iam = boto3.client("iam", region_name=_PROBE_REGION)
        role = iam.create_role(
            RoleName="probe-pipeline",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "codepipeline.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]
        client = boto3.client("codepipeline", region_name=_PROBE_REGION)
        action = {
            "name": "A",
            "actionTypeId": {
                "category": "Source",
                "owner": "AWS",
                "provider": "S3",
                "version": "1",
            },
        }
        client.create_pipeline(
            pipeline={
                "name": "probe",
                "roleArn": role["Arn"],
                "artifactStore": {"type": "S3", "location": "probe-bucket"},
                "stages": [
                    {"name": "One", "actions": [action]},
                    {"name": "Two", "actions": [action]},
                ],
            }
        )
        raw: dict[str, bytes] = {}

        def keep_body(response_dict: dict[str, Any], **_: Any) -> None:
            raw["body"] = response_dict["body"]

        client.meta.events.register("before-parse.codepipeline.GetPipeline", keep_body)
        client.get_pipeline(name="probe")
    return json.loads(raw["body"])["metadata"]["created"]


def _bug_present_codepipeline_iso_timestamps() -> bool:
    with unpatched():
        return isinstance(_pipeline_metadata_created(), str)


# --- patch 2: CodeBuild CODEPIPELINE source and artifacts -----------------------------


def _codebuild_responses() -> Any:
    from moto.codebuild import responses

    return responses


def _source_validator(original: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    def validate_source(source: dict[str, Any]) -> None:
        if source.get("type") == "CODEPIPELINE" and not source.get("location"):
            # AWS takes the source from the pipeline; there is no location.
            return original({**source, "location": "CODEPIPELINE"})
        return original(source)

    return validate_source


def _artifacts_validator(
    original: Callable[[dict[str, Any]], None],
) -> Callable[..., None]:
    def validate_artifacts(artifacts: dict[str, Any]) -> None:
        if artifacts.get("type") == "CODEPIPELINE" and not artifacts.get("location"):
            # AWS hands the artifacts back to the pipeline; there is no location.
            return original({**artifacts, "location": "CODEPIPELINE"})
        return original(artifacts)

    return validate_artifacts


def _create_codepipeline_project() -> str | None:
    """CreateProject with source and artifacts of type CODEPIPELINE and no
    location (as AWS accepts) in an in-process moto; return moto's error
    message, or None when it accepted the project."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("codebuild", region_name=_PROBE_REGION)
        try:
            client.create_project(
                name="probe",
                source={"type": "CODEPIPELINE"},
                artifacts={"type": "CODEPIPELINE"},
                environment={
                    "type": "LINUX_CONTAINER",
                    "image": "aws/codebuild/standard:5.0",
                    "computeType": "BUILD_GENERAL1_SMALL",
                },
                serviceRole=f"arn:aws:iam::{_PROBE_ACCOUNT}:role/probe",
            )
        except ClientError as error:
            return str(error.response["Error"].get("Message", error))
    return None


def _bug_present_codebuild_codepipeline_location() -> bool:
    with unpatched():
        return _create_codepipeline_project() is not None


PATCHES: tuple[Patch, ...] = (
    Patch(
        name="codepipeline-epoch-timestamps",
        bug=(
            "moto's GetPipeline/ListPipelines return metadata.created/updated as "
            "ISO-8601 strings; the CodePipeline API is JSON 1.1, where timestamps "
            "are epoch seconds, and the Go SDK (so the Terraform provider) fails to "
            "read the pipeline back."
        ),
        fix="CodePipeline.metadata returns created/updated as epoch seconds.",
        owner=_codepipeline_class,
        attribute="metadata",
        replacement=_codepipeline_metadata,
        bug_present=_bug_present_codepipeline_iso_timestamps,
    ),
    Patch(
        name="codebuild-codepipeline-source-location",
        bug=(
            "moto's CreateProject requires source.location even for source type "
            "CODEPIPELINE, which AWS accepts without one."
        ),
        fix="The source check is skipped for a CODEPIPELINE source without location.",
        owner=_codebuild_responses,
        attribute="_validate_required_params_source",
        replacement=_source_validator,
        bug_present=_bug_present_codebuild_codepipeline_location,
    ),
    Patch(
        name="codebuild-codepipeline-artifacts-location",
        bug=(
            "moto's CreateProject requires artifacts.location for artifacts type "
            "CODEPIPELINE, which AWS accepts without one."
        ),
        fix="The artifacts check is skipped for CODEPIPELINE artifacts without location.",
        owner=_codebuild_responses,
        attribute="_validate_required_params_artifacts",
        replacement=_artifacts_validator,
        bug_present=_bug_present_codebuild_codepipeline_location,
    ),
)


def apply() -> None:
    """Apply every patch to the moto code loaded in this process (idempotent)."""
    for patch in PATCHES:
        if patch.name in _originals:
            continue
        owner = patch.owner()
        original = owner.__dict__[patch.attribute] if isinstance(owner, type) else getattr(owner, patch.attribute)
        replacement = _replacements.get(patch.name)
        if replacement is None:
            inner = original.fget if isinstance(original, property) else original
            replacement = patch.replacement(inner)
            _replacements[patch.name] = replacement
        _originals[patch.name] = original
        setattr(owner, patch.attribute, replacement)


def revert() -> None:
    """Put moto's own code back (idempotent)."""
    for patch in reversed(PATCHES):
        original = _originals.pop(patch.name, None)
        if original is not None:
            setattr(patch.owner(), patch.attribute, original)


def applied() -> list[str]:
    """Names of the patches applied in this process."""
    return [patch.name for patch in PATCHES if patch.name in _originals]


@contextlib.contextmanager
def unpatched() -> Iterator[None]:
    """Run the block against moto's own code, re-applying what was applied."""
    was_applied = applied()
    revert()
    try:
        yield
    finally:
        if was_applied:
            apply()


def bug_present(name: str) -> bool:
    """Whether the upstream bug behind patch ``name`` is still in moto."""
    for patch in PATCHES:
        if patch.name == name:
            return patch.bug_present()
    raise KeyError(f"no moto patch named {name!r}; known: {[p.name for p in PATCHES]}")


# Named probes, for callers that prefer one function per bug.
bug_present_codepipeline_iso_timestamps = _bug_present_codepipeline_iso_timestamps
bug_present_codebuild_codepipeline_location = _bug_present_codebuild_codepipeline_location
