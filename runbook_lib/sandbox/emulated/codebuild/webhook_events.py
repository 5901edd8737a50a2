"""Repository events from the sandbox's GitHub, delivered as GitHub and a CodeStar connection would deliver them.

Every project in every account and region of the emulator whose GitHub source is the
event's repository and whose webhook's filter groups pass the event gets a build:
for a pull request at ``pr/<number>``, for a push at the pushed commit, with the
``CODEBUILD_WEBHOOK_*`` variables AWS sets. A push also starts every pipeline whose
connection source watches that repository and branch. Runs under the emulator's lock.
"""

from __future__ import annotations

from ... import github
from ..runtime import settings
from . import builds


def _webhook_variables(event: dict) -> tuple[str, dict[str, str]]:
    """The source version a webhook build gets and its CODEBUILD_WEBHOOK_* variables (names without the prefix)."""
    if event.get("kind") == "pull_request":
        trigger = f"pr/{int(event['number'])}"
        return trigger, {"EVENT": event["event"], "HEAD_REF": event["head_ref"], "BASE_REF": event["base_ref"],
                         "TRIGGER": trigger, "ACTOR_ACCOUNT_ID": event.get("actor", "")}
    ref = event["ref"]
    return event["head_sha"], {"EVENT": "PUSH", "HEAD_REF": ref, "BASE_REF": "",
                               "TRIGGER": "branch/" + ref.removeprefix("refs/heads/"),
                               "ACTOR_ACCOUNT_ID": event.get("actor", "")}


def deliver(event: dict) -> list[str]:
    """Start the builds ``event`` triggers; returns their ids (none when no webhook's filters pass)."""
    from moto.codebuild.models import codebuild_backends

    repository = event["repository"]
    github.repository_path(settings["directory"], repository)   # a valid owner/name, or SandboxError
    version, variables = _webhook_variables(event)
    started = []
    for account, regions in list(codebuild_backends.items()):
        for region, backend in list(regions.items()):
            for name, project in list(backend.codebuild_projects.items()):
                metadata = project.project_metadata
                hook = metadata.get("webhook")
                source = metadata.get("source") or {}
                if not hook or github.repository_of(source.get("location", "")) != repository:
                    continue
                if not builds.matches(hook.get("filterGroups") or [], event):
                    continue
                record = builds.start(backend, name, version, webhook=variables, initiator="GitHub-Hookshot/sandbox")
                started.append(record["id"])
    if event.get("kind") == "push":
        started += _pipelines_watching(repository, event["ref"].removeprefix("refs/heads/"))
    return started


def _pipelines_watching(repository: str, branch: str) -> list[str]:
    """Start every pipeline with a connection source on ``repository``'s ``branch`` (as the connection would)."""
    from moto.codepipeline.models import codepipeline_backends

    from .. import codepipeline_runs

    started = []
    for account, regions in list(codepipeline_backends.items()):
        for region, backend in list(regions.items()):
            for name, pipeline in list(backend.pipelines.items()):
                sources = [action.get("configuration") or {} for stage in pipeline.pipeline["stages"]
                           for action in stage["actions"]
                           if action["actionTypeId"].get("provider") == "CodeStarSourceConnection"]
                if any(c.get("FullRepositoryId") == repository and c.get("BranchName") == branch for c in sources):
                    started.append(f"pipeline {name}: " + codepipeline_runs.start(backend, name, "Webhook"))
    return started
