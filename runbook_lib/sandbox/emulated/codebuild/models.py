"""CodeBuild source credentials and webhooks: the sandbox's stand-in for what moto's CodeBuild lacks.

Data and rules; ``responses.py`` speaks the wire. Per account and region it holds
the imported source credentials, and a project's webhook lives on that project in
moto's own CodeBuild backend (so BatchGetProjects returns it, and it goes with the
project). Rules copied from AWS that a user trips on:

- a credential's token is required but never kept: only its ARN, server type and
  auth type are stored, and nothing returns, logs or echoes the token;
- one credential per server type, replaced on import unless ``shouldOverwrite`` is false;
- a webhook needs an existing project with a source from a Git provider, and a
  source credential for that provider in the same account and region (a GitHub
  source needs a GITHUB credential);
- one webhook per project; every filter group has an EVENT filter, with known events;
- ResourceNotFoundException for a project, webhook or credential it does not hold.

Nothing calls GitHub: the webhook is recorded, not registered anywhere, and no
build ever runs from it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from moto.codebuild.models import CodeBuild, codebuild_backends
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.utils import unix_time

from .exceptions import InvalidInputException, ResourceAlreadyExistsException, ResourceNotFoundException

SERVER_TYPES = ("GITHUB", "BITBUCKET", "GITHUB_ENTERPRISE", "GITLAB", "GITLAB_SELF_MANAGED")
AUTH_TYPES = ("OAUTH", "BASIC_AUTH", "PERSONAL_ACCESS_TOKEN", "CODECONNECTIONS", "SECRETS_MANAGER")
BUILD_TYPES = ("BUILD", "BUILD_BATCH", "RUNNER_BUILDKITE_BUILD")
FILTER_TYPES = ("EVENT", "BASE_REF", "HEAD_REF", "ACTOR_ACCOUNT_ID", "FILE_PATH", "COMMIT_MESSAGE",
                "WORKFLOW_NAME", "TAG_NAME", "RELEASE_NAME", "REPOSITORY_NAME", "ORGANIZATION_NAME")
EVENTS = ("PUSH", "PULL_REQUEST_CREATED", "PULL_REQUEST_UPDATED", "PULL_REQUEST_REOPENED", "PULL_REQUEST_MERGED",
          "PULL_REQUEST_CLOSED", "RELEASED", "PRERELEASED", "WORKFLOW_JOB_QUEUED")
# Project source type -> the credential server type a webhook on it needs.
SOURCE_SERVER = {"GITHUB": "GITHUB", "GITHUB_ENTERPRISE": "GITHUB_ENTERPRISE", "BITBUCKET": "BITBUCKET",
                 "GITLAB": "GITLAB", "GITLAB_SELF_MANAGED": "GITLAB_SELF_MANAGED"}


@dataclass(frozen=True)
class SourceCredential:
    """What the sandbox keeps of an imported credential: never the token."""

    arn: str
    server_type: str
    auth_type: str

    def describe(self) -> dict:
        return {"arn": self.arn, "serverType": self.server_type, "authType": self.auth_type}


class CodeBuildEmulatedBackend(BaseBackend):
    """One account and region: source credentials, and webhooks on moto's projects."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.credentials: dict[str, SourceCredential] = {}   # by server type

    # -- source credentials --------------------------------------------------------
    def import_source_credentials(self, token: str | None, server_type: str | None, auth_type: str | None,
                                  username: str | None, should_overwrite: bool | None) -> SourceCredential:
        if not token:
            raise InvalidInputException("Token is required")  # the value itself is never echoed
        if server_type not in SERVER_TYPES:
            raise InvalidInputException(f"Invalid server type: {server_type}; valid: {', '.join(SERVER_TYPES)}")
        if auth_type not in AUTH_TYPES:
            raise InvalidInputException(f"Invalid auth type: {auth_type}; valid: {', '.join(AUTH_TYPES)}")
        if auth_type == "BASIC_AUTH" and not username:
            raise InvalidInputException("Username is required for BASIC_AUTH")
        if server_type in self.credentials and should_overwrite is False:
            raise ResourceAlreadyExistsException(
                f"Source credentials for server type {server_type} already exist; set shouldOverwrite to replace them")
        arn = f"arn:{self.partition}:codebuild:{self.region_name}:{self.account_id}:token/{server_type.lower()}"
        credential = SourceCredential(arn, server_type, auth_type)
        self.credentials[server_type] = credential
        return credential

    def list_source_credentials(self) -> list[SourceCredential]:
        return list(self.credentials.values())

    def delete_source_credentials(self, arn: str | None) -> str:
        for server_type, credential in self.credentials.items():
            if credential.arn == arn:
                del self.credentials[server_type]
                return credential.arn
        raise ResourceNotFoundException(f"Could not find source credentials with arn {arn}")

    # -- webhooks ----------------------------------------------------------------------
    def _project(self, name: str | None) -> CodeBuild:
        projects = codebuild_backends[self.account_id][self.region_name].codebuild_projects
        project = projects.get(name or "") or next((p for p in projects.values() if p.arn == name), None)
        if project is None:
            raise ResourceNotFoundException(f"Project cannot be found: {name}")
        return project

    @staticmethod
    def _check_filters(filter_groups: list | None) -> list:
        groups = filter_groups or []
        for number, group in enumerate(groups, start=1):
            types = [f.get("type") for f in group]
            unknown = [t for t in types if t not in FILTER_TYPES]
            if unknown:
                raise InvalidInputException(f"Invalid filter type {unknown[0]} in filter group {number}")
            events = [f for f in group if f.get("type") == "EVENT"]
            if len(events) != 1:
                raise InvalidInputException(f"Filter group {number} must contain exactly one EVENT filter")
            named = [e.strip() for e in (events[0].get("pattern") or "").split(",")]
            bad = [e for e in named if e not in EVENTS]
            if bad:
                raise InvalidInputException(f"Invalid event {bad[0]!r} in filter group {number}; valid: {', '.join(EVENTS)}")
        return groups

    @staticmethod
    def _check_build_type(build_type: str | None) -> str | None:
        """None stays None: AWS returns no buildType for a webhook created without one."""
        if build_type is not None and build_type not in BUILD_TYPES:
            raise InvalidInputException(f"Invalid build type: {build_type}; valid: {', '.join(BUILD_TYPES)}")
        return build_type

    def _hook_ids(self, project: CodeBuild) -> tuple[int, str]:
        """A stable hook number and payload token for the project (the sandbox registers nothing on GitHub)."""
        digest = hashlib.sha256(project.arn.encode()).hexdigest()
        return int(digest[:8], 16) % 10**9, digest[:40]

    def create_webhook(self, project_name: str | None, branch_filter: str | None, filter_groups: list | None,
                       build_type: str | None) -> dict:
        project = self._project(project_name)
        metadata = project.project_metadata
        if metadata.get("webhook"):
            raise ResourceAlreadyExistsException(f"Webhook for project {metadata['name']} already exists")
        source = metadata.get("source") or {}
        server = SOURCE_SERVER.get(source.get("type", ""))
        if server is None:
            raise InvalidInputException(
                f"Project {metadata['name']} has source type {source.get('type')}; webhooks need a Git provider source")
        if server not in self.credentials:
            raise ResourceNotFoundException(f"Could not find access token for server type {server.lower()}")
        groups = self._check_filters(filter_groups)
        kind = self._check_build_type(build_type)
        hook_id, token = self._hook_ids(project)
        location = (source.get("location") or "").removesuffix(".git")
        repo = location.split("github.com/", 1)[-1] if "github.com/" in location else location
        webhook = {
            "url": f"https://api.github.com/repos/{repo}/hooks/{hook_id}",
            "payloadUrl": f"https://codebuild.{self.region_name}.amazonaws.com/webhooks?t={token}&v=1",
            "branchFilter": branch_filter or "",
            "filterGroups": groups,
            "lastModifiedSecret": unix_time(),
        }
        if kind is not None:
            webhook["buildType"] = kind
        metadata["webhook"] = webhook   # what BatchGetProjects returns: no secret, as on AWS
        return {**webhook, "secret": secrets.token_hex(20)}

    def update_webhook(self, project_name: str | None, branch_filter: str | None, filter_groups: list | None,
                       build_type: str | None, rotate_secret: bool | None) -> dict:
        project = self._project(project_name)
        webhook = project.project_metadata.get("webhook")
        if not webhook:
            raise ResourceNotFoundException(f"Webhook for project {project.project_metadata['name']} does not exist")
        if filter_groups is not None:
            webhook["filterGroups"] = self._check_filters(filter_groups)
        if branch_filter is not None:
            webhook["branchFilter"] = branch_filter
        if build_type is not None:
            webhook["buildType"] = self._check_build_type(build_type)
        if rotate_secret:
            webhook["lastModifiedSecret"] = unix_time()
            return {**webhook, "secret": secrets.token_hex(20)}
        return dict(webhook)

    def delete_webhook(self, project_name: str | None) -> None:
        project = self._project(project_name)
        if not project.project_metadata.pop("webhook", None):
            raise ResourceNotFoundException(f"Webhook for project {project.project_metadata['name']} does not exist")


codebuild_emulated_backends = BackendDict(CodeBuildEmulatedBackend, "codebuild")
