"""Small, in-process fixes to moto that the sandbox needs.

The sandbox runs Terraform and the real ``hashicorp/aws`` provider against moto
in server mode. Where moto disagrees with AWS in a way that breaks the provider,
this module patches the running moto process, so the sandbox Terraform modules
can stay faithful to upstream.

Each patch is one entry in ``PATCHES``: the moto bug it works around, what it
changes, and a probe, ``behaves_like_aws``, that exercises the behaviour in an
in-process moto (``moto.mock_aws``, no network) and says whether moto did what
AWS does. ``bug_present(name)`` runs that probe against moto's own, *unpatched*
code. The tests assert that every bug is still present, so they fail once moto
fixes one (then drop that patch), and that with the patches applied every probe
passes.

The probes use ``mock_aws``, which resets moto's in-process state: never call
them inside a process that is serving the sandbox (or beside an in-process moto
server whose state matters).

``apply()`` is idempotent, ``revert()`` undoes it, and ``unpatched()`` restores
moto's own code for the length of a ``with`` block. The server process calls
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
_PROBE_ROLE = f"arn:aws:iam::{_PROBE_ACCOUNT}:role/probe"
_PROBE_ENVIRONMENT = {
    "type": "LINUX_CONTAINER",
    "image": "aws/codebuild/standard:5.0",
    "computeType": "BUILD_GENERAL1_SMALL",
}
_PROBE_GITHUB_SOURCE = {"type": "GITHUB", "location": "https://github.com/o/r.git"}


@dataclass(frozen=True)
class Patch:
    """One replacement of one attribute of a moto module or class.

    ``wrap`` receives moto's original (a property's getter; None where moto has
    no such attribute) and returns the replacement.
    """

    name: str
    bug: str
    fix: str
    owner: Callable[[], Any]
    attribute: str
    wrap: Callable[[Any], Any]
    behaves_like_aws: Callable[[], bool]


# --- where the patched code lives ---------------------------------------------------


def _codepipeline_model() -> Any:
    from moto.codepipeline import models

    return models.CodePipeline


def _codebuild_responses_module() -> Any:
    from moto.codebuild import responses

    return responses


def _codebuild_response_class() -> Any:
    from moto.codebuild import responses

    return responses.CodeBuildResponse


def _codebuild_backend_class() -> Any:
    from moto.codebuild import models

    return models.CodeBuildBackend


# --- replacements ---------------------------------------------------------------------


def _wrap_pipeline_metadata(_original_getter: Any) -> property:
    from moto.core.utils import unix_time

    def metadata(self: Any) -> dict[str, Any]:
        return {
            "pipelineArn": self._arn,
            "created": unix_time(self._created),
            "updated": unix_time(self._updated),
        }

    return property(metadata)


def _wrap_source_check(original: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    def validate_source(source: dict[str, Any]) -> None:
        if source.get("type") == "CODEPIPELINE" and "location" not in source:
            return  # the pipeline supplies the source
        original(source)

    return validate_source


def _wrap_artifacts_check(
    original: Callable[[dict[str, Any]], None],
) -> Callable[..., None]:
    def validate_artifacts(artifacts: dict[str, Any]) -> None:
        if artifacts.get("type") == "CODEPIPELINE" and "location" not in artifacts:
            return  # the artifacts go back to the pipeline
        original(artifacts)

    return validate_artifacts


_SECONDARY_KEYS = ("secondarySources", "secondaryArtifacts", "secondarySourceVersions")


def _wrap_create_project(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def create_project(self: Any) -> Any:
        result = original(self)
        # The response holds this same metadata dict, so it carries them too.
        project = self.codebuild_backend.codebuild_projects[self._get_param("name")]
        for key in _SECONDARY_KEYS:
            value = self._get_param(key)
            if value:
                project.project_metadata[key] = value
        return result

    return create_project


def _wrap_delete_project(original: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
    def delete_project(self: Any, project_name: str) -> None:
        for name, project in self.codebuild_projects.items():
            if project.arn == project_name:
                project_name = name
                break
        original(self, project_name)

    return delete_project


def _wrap_update_project(_missing: None) -> Callable[[Any], Any]:
    from moto.codebuild import responses
    from moto.codebuild.exceptions import ResourceNotFoundException
    from moto.core.responses import ActionResult
    from moto.core.utils import unix_time

    def update_project(self: Any) -> Any:
        # CodeBuild speaks JSON: take each field the request names, parsed.
        request = {key: self._get_param(key) for key in json.loads(self.body or "{}")}
        name = request.pop("name")
        projects = self.codebuild_backend.codebuild_projects
        project = projects.get(name) or next(
            (candidate for candidate in projects.values() if candidate.arn == name), None
        )
        if project is None:
            raise ResourceNotFoundException(f"Project cannot be found: {name}")
        # The checks CreateProject makes (with the patches above, when applied).
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


# --- probes: in-process moto, AWS behaviour or not ------------------------------------


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=_PROBE_REGION)


def _pipeline_created_on_the_wire() -> Any:
    """Create a pipeline, GetPipeline, and return the raw JSON value of
    ``metadata.created`` exactly as moto sent it (boto3 would parse either form)."""
    from moto import mock_aws

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
    action = {
        "name": "A",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
    }
    with mock_aws():
        role_arn = _client("iam").create_role(
            RoleName="probe-pipeline", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        client = _client("codepipeline")
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


def _pipeline_timestamps_are_epoch() -> bool:
    created = _pipeline_created_on_the_wire()
    return isinstance(created, (int, float)) and not isinstance(created, bool)


def _create_project_error(**request: Any) -> str | None:
    """CreateProject with the given source/artifacts; moto's error, or None."""
    from botocore.exceptions import ClientError
    from moto import mock_aws

    with mock_aws():
        try:
            _client("codebuild").create_project(
                name="probe", environment=_PROBE_ENVIRONMENT, serviceRole=_PROBE_ROLE, **request
            )
        except ClientError as error:
            return str(error.response["Error"].get("Message", error))
    return None


def _codepipeline_source_accepted() -> bool:
    return (
        _create_project_error(source={"type": "CODEPIPELINE"}, artifacts={"type": "NO_ARTIFACTS"})
        is None
    )


def _codepipeline_artifacts_accepted() -> bool:
    return (
        _create_project_error(source=_PROBE_GITHUB_SOURCE, artifacts={"type": "CODEPIPELINE"})
        is None
    )


def _secondary_sources_read_back() -> bool:
    from moto import mock_aws

    secondary = [{**_PROBE_GITHUB_SOURCE, "sourceIdentifier": "source"}]
    with mock_aws():
        client = _client("codebuild")
        client.create_project(
            name="probe",
            source=_PROBE_GITHUB_SOURCE,
            secondarySources=secondary,
            artifacts={"type": "NO_ARTIFACTS"},
            environment=_PROBE_ENVIRONMENT,
            serviceRole=_PROBE_ROLE,
        )
        project = client.batch_get_projects(names=["probe"])["projects"][0]
    return bool(project.get("secondarySources"))


def _delete_project_by_arn_deletes() -> bool:
    """DeleteProject given the ARN (as the Terraform provider sends it)."""
    from moto import mock_aws

    with mock_aws():
        client = _client("codebuild")
        arn = client.create_project(
            name="probe",
            source=_PROBE_GITHUB_SOURCE,
            artifacts={"type": "NO_ARTIFACTS"},
            environment=_PROBE_ENVIRONMENT,
            serviceRole=_PROBE_ROLE,
        )["project"]["arn"]
        client.delete_project(name=arn)
        return "probe" not in client.list_projects()["projects"]


def _update_project_updates() -> bool:
    """UpdateProject new tags (as the provider does for any in-place change)."""
    from moto import mock_aws

    tags = [{"key": "stage", "value": "two"}]
    with mock_aws():
        client = _client("codebuild")
        client.create_project(
            name="probe",
            source=_PROBE_GITHUB_SOURCE,
            artifacts={"type": "NO_ARTIFACTS"},
            environment=_PROBE_ENVIRONMENT,
            serviceRole=_PROBE_ROLE,
        )
        try:
            client.update_project(name="probe", tags=tags)
        except NotImplementedError:  # what mock_aws raises for a missing operation
            return False
        return client.batch_get_projects(names=["probe"])["projects"][0].get("tags") == tags


# --- the patches ----------------------------------------------------------------------

PATCHES: tuple[Patch, ...] = (
    Patch(
        name="codepipeline-epoch-timestamps",
        bug=(
            "GetPipeline and ListPipelines return created/updated as ISO-8601 "
            "strings; CodePipeline speaks JSON 1.1, where timestamps are epoch "
            "seconds, and the Go SDK (so the Terraform provider) fails to read "
            "the pipeline back after creating it."
        ),
        fix="CodePipeline.metadata gives created/updated as epoch seconds.",
        owner=_codepipeline_model,
        attribute="metadata",
        wrap=_wrap_pipeline_metadata,
        behaves_like_aws=_pipeline_timestamps_are_epoch,
    ),
    Patch(
        name="codebuild-codepipeline-source-location",
        bug=(
            "CreateProject demands source.location even for source type "
            "CODEPIPELINE, which AWS accepts (and deploy-project sends) without one."
        ),
        fix="The source check lets a CODEPIPELINE source without a location pass.",
        owner=_codebuild_responses_module,
        attribute="_validate_required_params_source",
        wrap=_wrap_source_check,
        behaves_like_aws=_codepipeline_source_accepted,
    ),
    Patch(
        name="codebuild-codepipeline-artifacts-location",
        bug=(
            "CreateProject demands artifacts.location for artifacts type "
            "CODEPIPELINE, which AWS accepts (and deploy-project sends) without one."
        ),
        fix="The artifacts check lets CODEPIPELINE artifacts without a location pass.",
        owner=_codebuild_responses_module,
        attribute="_validate_required_params_artifacts",
        wrap=_wrap_artifacts_check,
        behaves_like_aws=_codepipeline_artifacts_accepted,
    ),
    Patch(
        name="codebuild-keep-secondary-sources",
        bug=(
            "CreateProject drops secondarySources (and secondaryArtifacts, "
            "secondarySourceVersions), so BatchGetProjects never returns them and "
            "every plan wants to add the manifests-project's secondary source."
        ),
        fix="After CreateProject, those three lists are kept on the project.",
        owner=_codebuild_response_class,
        attribute="create_project",
        wrap=_wrap_create_project,
        behaves_like_aws=_secondary_sources_read_back,
    ),
    Patch(
        name="codebuild-delete-project-by-arn",
        bug=(
            "DeleteProject given the project's ARN (AWS takes a name or an ARN; the "
            "Terraform provider sends the ARN) answers success and deletes nothing, "
            "so `terraform destroy` leaves every CodeBuild project behind."
        ),
        fix="DeleteProject resolves an ARN to the project's name first.",
        owner=_codebuild_backend_class,
        attribute="delete_project",
        wrap=_wrap_delete_project,
        behaves_like_aws=_delete_project_by_arn_deletes,
    ),
    Patch(
        name="codebuild-update-project",
        bug=(
            "UpdateProject is not implemented, so any in-place change to a CodeBuild "
            "project (a tag, the buildspec, an environment variable) fails to apply."
        ),
        fix="UpdateProject: the fields given replace the project's, after the checks "
        "CreateProject makes.",
        owner=_codebuild_response_class,
        attribute="update_project",
        wrap=_wrap_update_project,
        behaves_like_aws=_update_project_updates,
    ),
)

_BY_NAME = {patch.name: patch for patch in PATCHES}

# moto's originals, by patch name, for the patches applied in this process.
_originals: dict[str, Any] = {}
# Each replacement is built once, so re-applying installs the very same object.
_replacements: dict[str, Any] = {}
# Stands for "moto has no such attribute" (a patch that adds an operation).
_MISSING = object()


def _stored(owner: Any, attribute: str) -> Any:
    """The attribute as stored on its owner (for a class, the property object)."""
    if isinstance(owner, type):
        return owner.__dict__.get(attribute, _MISSING)
    return getattr(owner, attribute, _MISSING)


def _patch(name: str) -> Patch:
    if name not in _BY_NAME:
        raise KeyError(f"no moto patch named {name!r}; known: {sorted(_BY_NAME)}")
    return _BY_NAME[name]


def apply(names: Iterable[str] | None = None) -> None:
    """Apply the named patches (default: all) to the moto loaded in this process.

    A patch already applied is left as it is, so calling this twice is harmless.
    """
    for patch in PATCHES if names is None else [_patch(name) for name in names]:
        if patch.name in _originals:
            continue
        owner = patch.owner()
        original = _stored(owner, patch.attribute)
        if patch.name not in _replacements:
            inner = original.fget if isinstance(original, property) else original
            _replacements[patch.name] = patch.wrap(None if inner is _MISSING else inner)
        _originals[patch.name] = original
        setattr(owner, patch.attribute, _replacements[patch.name])


def revert() -> None:
    """Put moto's own code back wherever a patch is applied (idempotent)."""
    for patch in reversed(PATCHES):
        if patch.name not in _originals:
            continue
        original = _originals.pop(patch.name)
        if original is _MISSING:
            delattr(patch.owner(), patch.attribute)
        else:
            setattr(patch.owner(), patch.attribute, original)


def applied() -> list[str]:
    """Names of the patches applied in this process, in ``PATCHES`` order."""
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
    """Whether the installed moto, unpatched, still has the bug behind ``name``."""
    patch = _patch(name)
    with unpatched():
        return not patch.behaves_like_aws()


def behaves_like_aws(name: str) -> bool:
    """Whether moto, as it is patched now in this process, behaves like AWS for
    the behaviour that patch ``name`` is about."""
    return _patch(name).behaves_like_aws()


# One function per bug, for callers that prefer names to strings.
def bug_present_codepipeline_iso_timestamps() -> bool:
    return bug_present("codepipeline-epoch-timestamps")


def bug_present_codebuild_codepipeline_source_location() -> bool:
    return bug_present("codebuild-codepipeline-source-location")


def bug_present_codebuild_codepipeline_artifacts_location() -> bool:
    return bug_present("codebuild-codepipeline-artifacts-location")


def bug_present_codebuild_drops_secondary_sources() -> bool:
    return bug_present("codebuild-keep-secondary-sources")


def bug_present_codebuild_delete_by_arn_is_noop() -> bool:
    return bug_present("codebuild-delete-project-by-arn")


def bug_present_codebuild_update_project_missing() -> bool:
    return bug_present("codebuild-update-project")
