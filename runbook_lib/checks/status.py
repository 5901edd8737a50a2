"""Waiting and watching: the CodeStar handshake, pipeline executions, recent builds.

All read-only. ``wait_for_connection`` polls with exponential backoff until the
connection is AVAILABLE, showing progress, and gives up at a timeout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from ..errors import RunbookError
from ..resolved import resolve
from .base import Context
from .postflight import connection_arn


class ConnectionWaitTimeout(RunbookError):
    pass


@dataclass(frozen=True)
class ConnectionState:
    arn: str
    status: str          # PENDING or AVAILABLE (ERROR raises)
    waited: float


HANDSHAKE = ("Complete the handshake in the console (Developer Tools > Settings > Connections > "
             "Update pending connection)")


def _connection_arn(ctx: Context) -> str:
    arn = connection_arn(ctx)
    if arn is None:
        raise RunbookError("the connection's SSM parameter is missing: apply the common root first.")
    return arn


def _read_status(ctx: Context, arn: str) -> str:
    status = ctx.client("codestar-connections").get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"]
    if status == "ERROR":
        raise RunbookError(f"the connection {arn} is in ERROR: delete it in the console and re-apply the common root.")
    return status


def connection_state(ctx: Context) -> ConnectionState:
    """The connection's status now, read once: PENDING or AVAILABLE; ERROR raises."""
    arn = _connection_arn(ctx)
    return ConnectionState(arn, _read_status(ctx, arn), 0.0)


def wait_for_connection(ctx: Context, *, timeout: float = 900, first_delay: float = 5, max_delay: float = 60,
                        progress: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep,
                        clock: Callable[[], float] = time.monotonic) -> ConnectionState:
    """Poll the connection until AVAILABLE; PENDING keeps waiting, ERROR and timeout stop with a message."""
    arn = _connection_arn(ctx)
    started, delay = clock(), first_delay
    while True:
        status = _read_status(ctx, arn)
        waited = clock() - started
        if status == "AVAILABLE":
            progress(f"connection {ctx.org.codestar_connection_name} is AVAILABLE (after {waited:.0f} s)")
            return ConnectionState(arn, status, waited)
        if waited + delay > timeout:
            raise ConnectionWaitTimeout(
                f"the connection {ctx.org.codestar_connection_name} is still {status} after {waited:.0f} s. "
                f"{HANDSHAKE}, then wait again.")
        progress(f"connection {ctx.org.codestar_connection_name} is {status}; checking again in {delay:.0f} s "
                 f"({waited:.0f}/{timeout:.0f} s)")
        sleep(delay)
        delay = min(delay * 2, max_delay)


@dataclass(frozen=True)
class PipelineStatus:
    pipeline: str
    stages: dict[str, str]               # stage name -> latest status ("never run" before the first execution)
    executions: list[tuple[str, str]]    # (execution id, status), newest first


def pipeline_status(ctx: Context, limit: int = 5) -> list[PipelineStatus]:
    client = ctx.client("codepipeline")
    out = []
    for stage in resolve(ctx.org, ctx.app).stages:
        state = client.get_pipeline_state(name=stage.pipeline_name)
        stages = {s["stageName"]: s.get("latestExecution", {}).get("status", "never run")
                  for s in state.get("stageStates", [])}
        runs = client.list_pipeline_executions(pipelineName=stage.pipeline_name, maxResults=limit)["pipelineExecutionSummaries"]
        out.append(PipelineStatus(stage.pipeline_name, stages, [(r["pipelineExecutionId"], r["status"]) for r in runs]))
    return out


def recent_builds(ctx: Context, limit: int = 5) -> dict[str, list[tuple[str, str]]]:
    """Newest builds per project of the app: (build id, status)."""
    r = resolve(ctx.org, ctx.app)
    client = ctx.client("codebuild")
    out: dict[str, list[tuple[str, str]]] = {}
    for name in (r.image_project_name, r.manifests_project_name, r.deploy_project_name):
        ids = client.list_builds_for_project(projectName=name, sortOrder="DESCENDING").get("ids", [])[:limit]
        builds = client.batch_get_builds(ids=ids)["builds"] if ids else []
        out[name] = [(b["id"], b.get("buildStatus", "?")) for b in builds]
    return out
