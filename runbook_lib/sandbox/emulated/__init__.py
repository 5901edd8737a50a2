"""Services the sandbox emulates itself, inside its moto server: its stand-ins for what moto lacks.

The upstream modules call 13 operations that moto 5.2.5 does not answer, and the
runbook's pipeline status reads one more. Each
stand-in is laid out as a moto service (a model with the data and rules, responses
for the wire, exceptions with AWS's error codes, url registrations):

- ``codestarconnections``: CodeStar Connections (CreateConnection, GetConnection,
  ListConnections, DeleteConnection, ListTagsForResource, TagResource, UntagResource),
  a whole service moto does not have;
- ``codebuild``: CodeBuild ImportSourceCredentials, ListSourceCredentials,
  DeleteSourceCredentials, CreateWebhook, UpdateWebhook, DeleteWebhook, added to
  moto's CodeBuild (a webhook then shows in BatchGetProjects);
- ``codepipeline``: CodePipeline GetPipelineState, added to moto's CodePipeline (stage
  states read from the pipelines and executions moto holds);
- ``codebuild/builds.py``: CodeBuild StartBuild, BatchGetBuilds and StopBuild, replacing
  moto's (whose builds never run): the buildspec runs for real in the sandbox's folder;
- ``handshake``: the sandbox-only request that stands in for the console step
  completing a connection's handshake.

``install()`` registers them in the moto loaded in this process; the server process
calls it before it starts serving (moto's backend lookup imports ``moto.<service>``,
so a new service must be known by then). ``moto_ships(...)`` tells, from the installed
moto's own files, whether moto now has a service or operation itself: the tests fail
then, so the stand-in can go.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

#: What each stand-in covers, for output and docs.
STAND_INS = {
    "codestar-connections": "CodeStar Connections (the whole service; the handshake is simulated)",
    "codebuild-source-credentials": "CodeBuild ImportSourceCredentials, ListSourceCredentials, DeleteSourceCredentials",
    "codebuild-webhooks": "CodeBuild CreateWebhook, UpdateWebhook, DeleteWebhook and BatchGetProjects' webhook",
    "codepipeline-state": "CodePipeline GetPipelineState (stage states; moto runs no actions)",
    "codebuild-builds": "CodeBuild StartBuild, BatchGetBuilds, StopBuild: builds run for real (docker is a stand-in)",
    "codepipeline-runs": "CodePipeline StartPipelineExecution, ListActionExecutions: executions run their actions",
    "sts-principal-tag-trust": "STS AssumeRole evaluating a trust policy's aws:PrincipalTag StringEquals conditions",
    "eks-access-entries": "EKS access entries and access policies (Create/Describe/Delete/ListAccessEntries, "
                          "Associate/Disassociate/ListAssociatedAccessPolicies)",
}
_CONNECTIONS_MODULE = "moto.codestarconnections"
_CONNECTIONS_URL = ("codestar-connections", re.compile(r"https?://codestar-connections\.(.+)\.amazonaws\.com"))
_installed: list[str] = []


def moto_ships(feature: str) -> bool:
    """Whether the installed moto, by itself, has ``feature`` (a key of STAND_INS).

    Read from moto's own files, never from what ``install`` added, so it answers the
    same in a process where the stand-ins are installed.
    """
    import moto

    if feature in ("codebuild-builds", "codepipeline-runs"):
        return False   # moto records builds and executions but never runs one
    if feature == "sts-principal-tag-trust":
        spec = importlib.util.find_spec("moto.sts.models")
        return "PrincipalTag" in Path(spec.origin).read_text()
    if feature == "eks-access-entries":
        spec = importlib.util.find_spec("moto.eks.responses")
        return "def create_access_entry" in Path(spec.origin).read_text()
    if feature == "codestar-connections":
        return (Path(moto.__file__).parent / "codestarconnections").is_dir()
    module, operation = {"codebuild-source-credentials": ("codebuild", "def import_source_credentials"),
                         "codebuild-webhooks": ("codebuild", "def create_webhook"),
                         "codepipeline-state": ("codepipeline", "def get_pipeline_state")}[feature]
    spec = importlib.util.find_spec(f"moto.{module}.responses")
    return operation in Path(spec.origin).read_text()


def install() -> list[str]:
    """Register the stand-ins in this process's moto (idempotent); returns what is installed."""
    if _installed:
        return list(_installed)
    import moto.backend_index as backend_index
    from moto.codebuild.responses import CodeBuildResponse
    from moto.codepipeline.responses import CodePipelineResponse
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from . import codepipeline, codestarconnections, eks_access, handshake, sts_trust
    from .codebuild import responses as codebuild_responses

    if not moto_ships("codestar-connections"):
        sys.modules[_CONNECTIONS_MODULE] = codestarconnections
        if _CONNECTIONS_URL[0] not in {name for name, _ in backend_index.backend_url_patterns}:
            backend_index.backend_url_patterns.append(_CONNECTIONS_URL)   # the list moto's dispatcher reads
        _installed.append("codestar-connections")
    for feature in ("codebuild-source-credentials", "codebuild-webhooks"):
        if not moto_ships(feature):
            _installed.append(feature)
    if {"codebuild-source-credentials", "codebuild-webhooks"} & set(_installed):
        for name in codebuild_responses.OPERATIONS:
            if name not in CodeBuildResponse.__dict__:
                setattr(CodeBuildResponse, name, getattr(codebuild_responses.CodeBuildEmulatedResponses, name))
        CodeBuildResponse.emulated_backend = codebuild_responses.CodeBuildEmulatedResponses.emulated_backend
    for name in codebuild_responses.BUILD_OPERATIONS:
        setattr(CodeBuildResponse, name, getattr(codebuild_responses.CodeBuildBuildResponses, name))
    _installed.append("codebuild-builds")
    if not moto_ships("sts-principal-tag-trust"):
        sts_trust.install()
        _installed.append("sts-principal-tag-trust")
    if not moto_ships("eks-access-entries"):
        eks_access.install()
        _installed.append("eks-access-entries")
    for name in codepipeline.RUN_OPERATIONS:
        setattr(CodePipelineResponse, name, getattr(codepipeline.CodePipelineEmulatedResponses, name))
    _installed.append("codepipeline-runs")
    if not moto_ships("codepipeline-state"):
        for name in codepipeline.OPERATIONS:
            setattr(CodePipelineResponse, name, getattr(codepipeline.CodePipelineEmulatedResponses, name))
        _installed.append("codepipeline-state")
    if not getattr(DomainDispatcherApplication.__call__, "runbook_sandbox_route", False):
        DomainDispatcherApplication.__call__ = handshake.route(DomainDispatcherApplication.__call__)
    return list(_installed)


def installed() -> list[str]:
    return list(_installed)
