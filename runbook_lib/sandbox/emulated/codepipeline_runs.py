"""Pipeline executions the sandbox runs for real: stages in order, actions with their input and output artifacts.

moto's StartPipelineExecution records an execution that has "Succeeded" at once. Here
an execution runs on a thread of the emulator:

- a ``CodeStarSourceConnection`` source action needs its connection AVAILABLE, reads
  the branch's head commit in the sandbox's GitHub, and writes its output artifact to
  the pipeline's artifact bucket (``CODEBUILD_CLONE_REF``: a small JSON document naming
  the repository and commit, which CodeBuild clones);
- a ``CodeBuild`` action runs a real build of its project (``codebuild/builds.py``) with
  the action's input artifacts (``PrimarySource``, or the first, in CODEBUILD_SRC_DIR;
  the others in CODEBUILD_SRC_DIR_<name>) and its ``EnvironmentVariables``; its output
  artifact is the zip of the buildspec's ``artifacts``, in the artifact bucket;
- actions of a stage run one after another in ``runOrder``; a failed action fails its
  stage and the execution, and later stages do not run.

GetPipelineExecution, ListPipelineExecutions, GetPipelineState and ListActionExecutions
report what happened. A push to a branch a source action watches starts an execution,
as the connection would (``webhook_events``).
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from typing import Any

from .artifacts import write_artifact
from .codebuild import builds
from .runtime import settings

_runs: dict[str, "Run"] = {}   # by execution id: the stage and action states of every execution


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Run:
    """One execution: its moto record, and the state of each stage and action."""

    def __init__(self, backend: Any, pipeline: dict, execution: Any, trigger: str):
        self.backend, self.pipeline, self.execution = backend, pipeline, execution
        self.stages: dict[str, dict] = {}
        self.actions: list[dict] = []
        self.artifacts: dict[str, dict] = {}
        self.trigger = trigger
        execution.status = "InProgress"
        execution.status_summary = None

    def _set(self, **changes: Any) -> None:
        with settings["lock"]:
            for key, value in changes.items():
                setattr(self.execution, key, value)
            self.execution.last_update_time = _now()

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:   # never left InProgress: the execution fails and says why
            self._set(status="Failed", status_summary=f"the sandbox could not run the execution: {exc}")

    def _run(self) -> None:
        failure = None
        for stage in self.pipeline["stages"]:
            if failure:
                break
            with settings["lock"]:
                self.stages[stage["name"]] = {"status": "InProgress"}
            for action in sorted(stage["actions"], key=lambda a: int(a.get("runOrder") or 1)):
                failure = self._action(stage["name"], action)
                if failure:
                    break
            with settings["lock"]:
                self.stages[stage["name"]]["status"] = "Failed" if failure else "Succeeded"
        self._set(status="Failed" if failure else "Succeeded", status_summary=failure)

    def _action(self, stage: str, action: dict) -> str | None:
        """Run one action; the failure's summary, or None."""
        record = {"pipelineExecutionId": self.execution.pipeline_execution_id, "actionExecutionId": str(uuid.uuid4()),
                  "pipelineVersion": self.pipeline.get("version", 1), "stageName": stage,
                  "actionName": action["name"], "startTime": _now(), "lastUpdateTime": _now(), "status": "InProgress",
                  "input": {"actionTypeId": action["actionTypeId"], "configuration": action.get("configuration") or {},
                            "inputArtifacts": [{"name": a["name"]} for a in action.get("inputArtifacts") or []]},
                  "output": {"outputArtifacts": [], "executionResult": {}}}
        with settings["lock"]:
            self.actions.append(record)
        provider = action["actionTypeId"].get("provider")
        self.external = ""
        try:
            if provider == "CodeStarSourceConnection":
                summary, external = self._source(action)
            elif provider == "CodeBuild":
                summary, external = self._codebuild(action)
            else:
                raise builds.BuildError("NOT_EMULATED", f"action provider {provider} is not emulated by the sandbox")
        except Exception as exc:   # the action fails as AWS would report it; the emulator keeps running
            error = exc if isinstance(exc, builds.BuildError) else builds.BuildError(
                "FAULT", f"the sandbox could not run the action: {type(exc).__name__}: {exc}")
            with settings["lock"]:
                record.update(status="Failed", lastUpdateTime=_now())
                record["output"]["executionResult"] = {"externalExecutionSummary": str(error)}
                if self.external:   # the build that failed, for its log
                    record["output"]["executionResult"]["externalExecutionId"] = self.external
            return f"{stage}.{action['name']}: {error}"
        with settings["lock"]:
            record.update(status="Succeeded", lastUpdateTime=_now())
            record["output"]["executionResult"] = {"externalExecutionSummary": summary, "externalExecutionId": external}
            record["output"]["outputArtifacts"] = [
                {"name": a["name"], "s3location": {"bucket": self.artifacts[a["name"]]["bucket"],
                                                   "key": self.artifacts[a["name"]]["key"]}}
                for a in action.get("outputArtifacts") or [] if a["name"] in self.artifacts]
        return None

    def _location(self, artifact: str) -> dict:
        store = self.pipeline.get("artifactStore") or {}
        name = self.pipeline["name"][:20]
        return {"type": "zip", "account": self.backend.account_id, "bucket": store.get("location", ""),
                "key": f"{name}/{artifact[:20]}/{uuid.uuid4().hex[:7]}"}

    def _source(self, action: dict) -> tuple[str, str]:
        from .. import github
        from .codestarconnections.models import codestarconnections_backends

        config = action.get("configuration") or {}
        arn, repository, branch = config.get("ConnectionArn", ""), config.get("FullRepositoryId", ""), config.get("BranchName", "")
        with settings["lock"]:
            connections = codestarconnections_backends[self.backend.account_id][self.backend.region_name]
            connection = connections.connections.get(arn)
        if connection is None:
            raise builds.BuildError("CLIENT_ERROR", f"connection {arn} not found")
        if connection.status != "AVAILABLE":
            raise builds.BuildError("CLIENT_ERROR", f"Connection {arn} is not available (status {connection.status}): "
                                    "complete its handshake")
        commit = github.resolve(settings["directory"], repository, f"refs/heads/{branch}")
        if commit is None:
            raise builds.BuildError("CLIENT_ERROR", f"branch {branch} of {repository} not found in the sandbox's GitHub")
        for output in action.get("outputArtifacts") or []:
            location = self._location(output["name"])
            document = {"repository": repository, "commit": commit, "branch": branch}
            write_artifact(location, json.dumps(document).encode(), commit)
            self.artifacts[output["name"]] = {**location, "type": "clone_ref", **document}
        return f"{repository}@{branch}: {commit[:12]}", commit

    def _codebuild(self, action: dict) -> tuple[str, str]:
        from moto.codebuild.models import codebuild_backends

        config = action.get("configuration") or {}
        names = [a["name"] for a in action.get("inputArtifacts") or []]
        primary = config.get("PrimarySource") or (names[0] if names else None)
        missing = [n for n in names if n not in self.artifacts]
        if missing or primary not in names:
            raise builds.BuildError("CLIENT_ERROR", f"input artifact {(missing or [primary])[0]} was not produced")
        inputs = [(primary, self.artifacts[primary])] + [(n, self.artifacts[n]) for n in names if n != primary]
        outputs = [a["name"] for a in action.get("outputArtifacts") or []]
        output = self._location(outputs[0]) if outputs else None
        try:
            variables = json.loads(config.get("EnvironmentVariables") or "[]")
        except ValueError:
            raise builds.BuildError("CLIENT_ERROR", "EnvironmentVariables is not JSON") from None
        variables = [{"name": v["name"], "value": v.get("value", ""), "type": v.get("type", "PLAINTEXT")}
                     for v in variables]
        with settings["lock"]:
            backend = codebuild_backends[self.backend.account_id][self.backend.region_name]
            record = builds.start(backend, config.get("ProjectName", ""), self.artifacts[primary].get("revision"),
                                  variables, initiator=f"codepipeline/{self.pipeline['name']}", inputs=inputs,
                                  output=output)
        build_id = self.external = record["id"]
        while True:
            with settings["lock"]:
                status, done = record["buildStatus"], record["buildComplete"]
            if done:
                break
            time.sleep(0.5)
        if status != "SUCCEEDED":
            failed = next((p for p in record["phases"] if p.get("phaseStatus") not in (None, "SUCCEEDED")), {})
            reason = "; ".join(c.get("message", "") for c in failed.get("contexts") or [])
            raise builds.BuildError("BUILD_FAILED", f"build {build_id} {status} in {failed.get('phaseType', '?')}"
                                    + (f": {reason}" if reason else ""))
        if output is not None:
            self.artifacts[outputs[0]] = output
        return f"build {build_id} SUCCEEDED", build_id


def start(backend: Any, name: str, trigger: str = "StartPipelineExecution") -> str:
    """Start an execution of pipeline ``name`` (under the emulator's lock); returns its id."""
    from moto.codepipeline.models import PipelineExecution

    pipeline, _ = backend.get_pipeline(name)   # PipelineNotFoundException, as on AWS
    if not settings:
        raise builds.BuildError("FAULT", "this emulator runs no pipelines (it was not started by the sandbox)")
    execution = PipelineExecution(name, pipeline.get("version", 1), None)
    backend.pipelines[name].executions[execution.pipeline_execution_id] = execution
    run = Run(backend, pipeline, execution, trigger)
    _runs[execution.pipeline_execution_id] = run
    threading.Thread(target=run.run, name=f"pipeline {name}", daemon=True).start()
    return execution.pipeline_execution_id


def run_of(execution_id: str) -> Run | None:
    return _runs.get(execution_id)
