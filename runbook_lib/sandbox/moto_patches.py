"""Small, in-process fixes to moto that the sandbox needs.

The sandbox runs Terraform and the real ``hashicorp/aws`` provider against moto
in server mode. Where moto disagrees with AWS in a way that breaks the provider,
this module patches the running moto process, so the sandbox Terraform modules
can stay faithful to upstream.

Each patch is one entry in ``PATCHES``, saying what upstream (moto) bug it works
around and what it changes, with a ``bug_present`` probe that runs moto's own,
*unpatched* code in-process (``moto.mock_aws``, no network) and says whether the
bug is still there. The tests assert every probe still finds its bug, so they
fail once moto fixes one: then drop that patch.

``apply()`` is idempotent; ``revert()`` undoes it; ``unpatched()`` restores
moto's own code for a ``with`` block (the probes use it). The server process calls
``apply()`` before it starts serving::

    from runbook_lib.sandbox import moto_patches
    moto_patches.apply()
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

#: The moto release these patches were written against and checked on.
MOTO_VERSION_CHECKED = "5.2.5"

_PROBE_ACCOUNT = "123456789012"
_PROBE_REGION = "us-east-1"


@dataclass(frozen=True)
class Patch:
    """One replacement of one attribute of a moto module or class.

    ``wrap`` receives moto's original (for a property, its getter) and returns
    the replacement; ``bug_present`` probes unpatched moto for the bug.
    """

    name: str
    bug: str
    fix: str
    owner: Callable[[], Any]
    attribute: str
    wrap: Callable[[Any], Any]
    bug_present: Callable[[], bool]


# moto's originals, keyed by patch name, for the patches applied in this process.
_originals: dict[str, Any] = {}
# Replacements are built once and reused, so re-applying installs the same object.
_replacements: dict[str, Any] = {}


# --- CodePipeline: metadata timestamps -------------------------------------------


def _codepipeline_class() -> Any:
    from moto.codepipeline import models

    return models.CodePipeline


def _wrap_codepipeline_metadata(_original_getter: Any) -> property:
    from moto.core.utils import unix_time

    def metadata(self: Any) -> dict[str, Any]:
        return {
            "pipelineArn": self._arn,
            "created": unix_time(self._created),
            "updated": unix_time(self._updated),
        }

    return property(metadata)


def _pipeline_created_on_the_wire() -> Any:
    """Create a pipeline in an in-process moto, call GetPipeline and return the
    raw JSON value of ``metadata.created`` exactly as moto sent it."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        iam = boto3.client("iam", region_name=_PROBE_REGION)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "codepipeline.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role_arn = iam.create_role(
            RoleName="probe-pipeline", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
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
                "roleArn": role_arn,
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


def _bug_codepipeline_iso_timestamps() -> bool:
    with unpatched():
        return isinstance(_pipeline_created_on_the_wire(), str)


# --- CodeBuild: CreateProject --------------------------------------------------------

_PROBE_ENVIRONMENT = {
    "type": "LINUX_CONTAINER",
    "image": "aws/codebuild/standard:5.0",
    "computeType": "BUILD_GENERAL1_SMALL",
}
_PROBE_GITHUB_SOURCE = {"type": "GITHUB", "location": "https://github.com/o/r.git"}


def _codebuild_responses_module() -> Any:
    from moto.codebuild import responses

    return responses


def _codebuild_response_class() -> Any:
    from moto.codebuild import responses

    return responses.CodeBuildResponse


def _create_project(**request: Any) -> tuple[str | None, dict[str, Any] | None]:
    """CreateProject in an in-process moto, then BatchGetProjects. Returns moto's
    error message (or None) and the project as read back (or None)."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("codebuild", region_name=_PROBE_REGION)
        try:
            client.create_project(
                name="probe",
                environment=_PROBE_ENVIRONMENT,
                serviceRole=f"arn:aws:iam::{_PROBE_ACCOUNT}:role/probe",
                **request,
            )
        except ClientError as error:
            return str(error.response["Error"].get("Message", error)), None
        return None, client.batch_get_projects(names=["probe"])["projects"][0]


def _wrap_source_check(original: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    def validate_source(source: dict[str, Any]) -> None:
        if source.get("type") == "CODEPIPELINE" and "location" not in source:
            # A CODEPIPELINE project takes its source from the pipeline.
            return
        original(source)

    return validate_source


def _bug_codebuild_codepipeline_source_location() -> bool:
    with unpatched():
        error, _ = _create_project(
            source={"type": "CODEPIPELINE"}, artifacts={"type": "NO_ARTIFACTS"}
        )
    return error is not None


def _wrap_artifacts_check(
    original: Callable[[dict[str, Any]], None],
) -> Callable[..., None]:
    def validate_artifacts(artifacts: dict[str, Any]) -> None:
        if artifacts.get("type") == "CODEPIPELINE" and "location" not in artifacts:
            # A CODEPIPELINE project hands its artifacts back to the pipeline.
            return
        original(artifacts)

    return validate_artifacts


def _bug_codebuild_codepipeline_artifacts_location() -> bool:
    with unpatched():
        error, _ = _create_project(
            source=_PROBE_GITHUB_SOURCE, artifacts={"type": "CODEPIPELINE"}
        )
    return error is not None


_SECONDARY_KEYS = ("secondarySources", "secondaryArtifacts", "secondarySourceVersions")


def _wrap_create_project(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def create_project(self: Any) -> Any:
        result = original(self)
        # The response holds the same metadata dict, so this reaches it too.
        metadata = self.codebuild_backend.codebuild_projects[
            self._get_param("name")
        ].project_metadata
        for key in _SECONDARY_KEYS:
            value = self._get_param(key)
            if value:
                metadata[key] = value
        return result

    return create_project


def _probe_secondary_sources() -> Any:
    _, project = _create_project(
        source=_PROBE_GITHUB_SOURCE,
        artifacts={"type": "NO_ARTIFACTS"},
        secondarySources=[{**_PROBE_GITHUB_SOURCE, "sourceIdentifier": "source"}],
    )
    return (project or {}).get("secondarySources")


def _bug_codebuild_drops_secondary_sources() -> bool:
    with unpatched():
        return not _probe_secondary_sources()


# --- CodeBuild: DeleteProject by ARN ---------------------------------------------------


def _codebuild_backend_class() -> Any:
    from moto.codebuild import models

    return models.CodeBuildBackend


def _wrap_delete_project(original: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
    def delete_project(self: Any, project_name: str) -> None:
        for name, project in self.codebuild_projects.items():
            if project.arn == project_name:
                project_name = name
                break
        original(self, project_name)

    return delete_project


def _project_left_after_delete_by_arn() -> bool:
    """Create a project in an in-process moto, DeleteProject by its ARN (as the
    Terraform provider does) and say whether the project is still listed."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("codebuild", region_name=_PROBE_REGION)
        arn = client.create_project(
            name="probe",
            source=_PROBE_GITHUB_SOURCE,
            artifacts={"type": "NO_ARTIFACTS"},
            environment=_PROBE_ENVIRONMENT,
            serviceRole=f"arn:aws:iam::{_PROBE_ACCOUNT}:role/probe",
        )["project"]["arn"]
        client.delete_project(name=arn)
        return "probe" in client.list_projects()["projects"]


def _bug_codebuild_delete_by_arn_is_noop() -> bool:
    with unpatched():
        return _project_left_after_delete_by_arn()


# --- CodeBuild: UpdateProject ----------------------------------------------------------


def _wrap_update_project(_missing: Any) -> Callable[[Any], Any]:
    from moto.codebuild import responses
    from moto.codebuild.exceptions import ResourceNotFoundException
    from moto.core.responses import ActionResult
    from moto.core.utils import unix_time

    def update_project(self: Any) -> Any:
        # CodeBuild speaks JSON; take each field the request names, parsed.
        request = {key: self._get_param(key) for key in json.loads(self.body or "{}")}
        name = request.pop("name")
        projects = self.codebuild_backend.codebuild_projects
        project = projects.get(name) or next(
            (p for p in projects.values() if p.arn == name), None
        )
        if project is None:
            raise ResourceNotFoundException(f"Project cannot be found: {name}")
        # The same checks CreateProject makes (patched ones included).
        if "source" in request:
            responses._validate_required_params_source(request["source"])
        if "artifacts" in request:
            responses._validate_required_params_artifacts(request["artifacts"])
        if "environment" in request:
            responses._validate_required_params_environment(request["environment"])
        metadata = project.project_metadata
        for key, value in request.items():
            if key == "badgeEnabled":
                metadata["badge"] = {"badgeEnabled": value}
            else:
                metadata[key] = value
        project.service_role = metadata["serviceRole"]
        project.tags = metadata.get("tags")
        metadata["lastModifiedDate"] = unix_time()
        return ActionResult({"project": metadata})

    return update_project


def _update_project_tags() -> str | None:
    """Create a project in an in-process moto and UpdateProject its tags (as the
    Terraform provider does for any in-place change); return moto's error, or
    None when the new tags read back."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("codebuild", region_name=_PROBE_REGION)
        client.create_project(
            name="probe",
            source=_PROBE_GITHUB_SOURCE,
            artifacts={"type": "NO_ARTIFACTS"},
            environment=_PROBE_ENVIRONMENT,
            serviceRole=f"arn:aws:iam::{_PROBE_ACCOUNT}:role/probe",
        )
        tags = [{"key": "stage", "value": "two"}]
        try:
            client.update_project(name="probe", tags=tags)
        except NotImplementedError as error:  # raised in-process by mock_aws
            return str(error)
        read = client.batch_get_projects(names=["probe"])["projects"][0]
        return None if read.get("tags") == tags else f"tags read back as {read.get('tags')}"


def _bug_codebuild_update_project_missing() -> bool:
    with unpatched():
        return _update_project_tags() is not None


PATCHES: tuple[Patch, ...] = (
    Patch(
        name="codepipeline-epoch-timestamps",
        bug=(
            "GetPipeline/ListPipelines return metadata created/updated as ISO-8601 "
            "strings; CodePipeline speaks JSON 1.1, where timestamps are epoch "
            "seconds, and the Go SDK (so the Terraform provider) cannot read the "
            "pipeline back."
        ),
        fix="CodePipeline.metadata gives created/updated as epoch seconds.",
        owner=_codepipeline_class,
        attribute="metadata",
        wrap=_wrap_codepipeline_metadata,
        bug_present=_bug_codepipeline_iso_timestamps,
    ),
    Patch(
        name="codebuild-codepipeline-source-location",
        bug=(
            "CreateProject demands source.location even for source type "
            "CODEPIPELINE, which AWS accepts (and the deploy-project sends) "
            "without one."
        ),
        fix="The source check lets a CODEPIPELINE source without location pass.",
        owner=_codebuild_responses_module,
        attribute="_validate_required_params_source",
        wrap=_wrap_source_check,
        bug_present=_bug_codebuild_codepipeline_source_location,
    ),
    Patch(
        name="codebuild-codepipeline-artifacts-location",
        bug=(
            "CreateProject demands artifacts.location for artifacts type "
            "CODEPIPELINE, which AWS accepts (and the deploy-project sends) "
            "without one."
        ),
        fix="The artifacts check lets CODEPIPELINE artifacts without location pass.",
        owner=_codebuild_responses_module,
        attribute="_validate_required_params_artifacts",
        wrap=_wrap_artifacts_check,
        bug_present=_bug_codebuild_codepipeline_artifacts_location,
    ),
    Patch(
        name="codebuild-keep-secondary-sources",
        bug=(
            "CreateProject drops secondarySources (and secondaryArtifacts, "
            "secondarySourceVersions), so BatchGetProjects never returns them and "
            "Terraform plans to add the manifests-project's secondary source on "
            "every run."
        ),
        fix="After CreateProject, the three secondary lists are kept on the project.",
        owner=_codebuild_response_class,
        attribute="create_project",
        wrap=_wrap_create_project,
        bug_present=_bug_codebuild_drops_secondary_sources,
    ),
    Patch(
        name="codebuild-delete-project-by-arn",
        bug=(
            "DeleteProject given the project's ARN (AWS accepts a name or an ARN; "
            "the Terraform provider sends the ARN) answers success and deletes "
            "nothing, so `terraform destroy` leaves every CodeBuild project behind."
        ),
        fix="DeleteProject resolves an ARN to the project's name first.",
        owner=_codebuild_backend_class,
        attribute="delete_project",
        wrap=_wrap_delete_project,
        bug_present=_bug_codebuild_delete_by_arn_is_noop,
    ),
    Patch(
        name="codebuild-update-project",
        bug=(
            "UpdateProject is not implemented, so any in-place change to a "
            "CodeBuild project (a tag, the buildspec, an environment variable) "
            "fails to apply."
        ),
        fix=(
            "UpdateProject: the given fields replace the project's, after the "
            "checks CreateProject makes."
        ),
        owner=_codebuild_response_class,
        attribute="update_project",
        wrap=_wrap_update_project,
        bug_present=_bug_codebuild_update_project_missing,
    ),
)

_BY_NAME = {patch.name: patch for patch in PATCHES}


_MISSING = object()  # stands for "moto has no such attribute" (a new operation)


def _own(owner: Any, attribute: str) -> Any:
    """The attribute as stored on its owner (a property object, not its value)."""
    if isinstance(owner, type):
        return owner.__dict__.get(attribute, _MISSING)
    return getattr(owner, attribute, _MISSING)


def apply(names: Iterable[str] | None = None) -> None:
    """Apply the named patches (default: all) to the moto loaded in this process.

    Applying a patch that is already applied does nothing.
    """
    for patch in PATCHES if names is None else [_BY_NAME[name] for name in names]:
        if patch.name in _originals:
            continue
        owner = patch.owner()
        original = _own(owner, patch.attribute)
        if patch.name not in _replacements:
            inner = original.fget if isinstance(original, property) else original
            _replacements[patch.name] = patch.wrap(None if inner is _MISSING else inner)
        _originals[patch.name] = original
        setattr(owner, patch.attribute, _replacements[patch.name])


def revert() -> None:
    """Put moto's own code back for every applied patch (idempotent)."""
    for patch in reversed(PATCHES):
        if patch.name in _originals:
            original = _originals.pop(patch.name)
            if original is _MISSING:
                delattr(patch.owner(), patch.attribute)
            else:
                setattr(patch.owner(), patch.attribute, original)


def applied() -> list[str]:
    """Names of the patches applied in this process."""
    return [patch.name for patch in PATCHES if patch.name in _originals]


@contextlib.contextmanager
def unpatched() -> Iterator[None]:
    """Run the block against moto's own code, then re-apply what was applied."""
    was_applied = applied()
    revert()
    try:
        yield
    finally:
        apply(was_applied)


def bug_present(name: str) -> bool:
    """Whether the moto bug behind patch ``name`` is still in the installed moto."""
    if name not in _BY_NAME:
        raise KeyError(f"no moto patch named {name!r}; known: {sorted(_BY_NAME)}")
    return _BY_NAME[name].bug_present()


# One probe per bug, for callers that prefer named functions.
bug_present_codepipeline_iso_timestamps = _bug_codepipeline_iso_timestamps
bug_present_codebuild_codepipeline_source_location = (
    _bug_codebuild_codepipeline_source_location
)
bug_present_codebuild_codepipeline_artifacts_location = (
    _bug_codebuild_codepipeline_artifacts_location
)
bug_present_codebuild_drops_secondary_sources = _bug_codebuild_drops_secondary_sources
bug_present_codebuild_delete_by_arn_is_noop = _bug_codebuild_delete_by_arn_is_noop
bug_present_codebuild_update_project_missing = _bug_codebuild_update_project_missing
