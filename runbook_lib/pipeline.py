"""The first pull request: its buildspec committed, the event delivered, the image build followed to its end.

In the sandbox everything is real but GitHub and docker: the rendered image buildspec
is committed to the sandbox's repository of the application (created with a tiny
application the first time), a pull request is opened, the webhook's event is
delivered, and CodeBuild runs the build (``sandbox/emulated/codebuild/builds.py``).
``follow`` reads what AWS reports (BatchGetBuilds, the CloudWatch Logs stream) and
hands each change to a callback, so the CLI and the notebooks only display it.

On live the runbook does not push to your repositories: ``live_steps`` gives the git
commands that put the buildspec where the image project reads it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import RunbookError
from .render.buildspecs import IMAGE_BUILDSPEC_PATH, MANIFESTS_BUILDSPEC_PATH

# The tiny application the sandbox's repository starts with (a Dockerfile and the page it serves).
SAMPLE_APPLICATION = {
    "Dockerfile": "FROM nginx:1.27-alpine\nCOPY index.html /usr/share/nginx/html/index.html\n",
    "index.html": "<!doctype html><title>sample</title><p>Hello from the sandbox.</p>\n",
}
PULL_REQUEST_BRANCH = "runbook/first-pull-request"
MERGE_BRANCH = "runbook/first-merge"
DEFAULT_LIMIT = 600.0   # seconds a follow waits for builds before giving up (the builds go on)
GITHUB_EVENT_PATH = "/runbook-sandbox/github/event"


@dataclass
class BuildView:
    """A build as AWS reports it, for display."""

    id: str
    project: str
    status: str
    phase: str
    phases: list[tuple[str, str, str]] = field(default_factory=list)   # (phase, status, context message)
    source_version: str = ""
    resolved: str = ""
    log_lines: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status != "IN_PROGRESS"

    def cause(self) -> str | None:
        """The failed phase and what AWS says about it, or None when nothing failed."""
        for phase, status, message in self.phases:
            if status not in ("SUCCEEDED", ""):
                return f"{phase} {status}: {message}" if message else f"{phase} {status}"
        return None


@dataclass
class PullRequestRun:
    repository: str
    number: int
    branch: str
    head: str
    build_ids: list[str]


@dataclass
class ActionView:
    """One action of a pipeline execution, as ListActionExecutions reports it."""

    stage: str
    action: str
    status: str
    summary: str = ""


@dataclass
class ExecutionView:
    """A pipeline execution, as GetPipelineExecution and ListActionExecutions report it."""

    pipeline: str
    id: str
    status: str
    summary: str = ""
    actions: list[ActionView] = field(default_factory=list)


@dataclass
class PipelineRun:
    """What a pull request or a merge started in the sandbox, and how it ended (or stood at the time limit).

    The one result the CLI and the notebooks display; nothing in it is decided by them.
    """

    action: str                      # "pull-request" or "merge"
    repository: str
    number: int                      # the pull request
    base: str                        # the branch it was opened against (merge: merged into)
    head: str                        # the commit that was built (merge: the merge commit)
    builds: list[BuildView] = field(default_factory=list)
    executions: list[ExecutionView] = field(default_factory=list)
    nothing_started: str = ""        # why nothing ran, with what to do
    still_running: bool = False      # the time limit passed first; what runs goes on in the sandbox
    images: list[str] = field(default_factory=list)         # repository:tag found in ECR for the commit built
    not_emulated: list[str] = field(default_factory=list)   # the builds' own NOT_EMULATED lines (kubectl apply)
    causes: list[tuple[str, str] | None] = field(default_factory=list)   # per failure: (cause, remedy), None unknown

    @property
    def succeeded(self) -> bool:
        return (not self.nothing_started and not self.still_running
                and all(b.status == "SUCCEEDED" for b in self.builds)
                and all(e.status == "Succeeded" for e in self.executions))


def _post(url: str, path: str, body: dict) -> dict:
    from .sandbox.server import post_json

    return post_json(url, path, body, 60, "the sandbox refused the event: {problem}", "the sandbox did not answer the event")


def open_sandbox_pull_request(app, out: Path, sandbox_dir: Path, url: str) -> PullRequestRun:
    """Commit the rendered image buildspec on a branch of the app's sandbox repository, open a pull request, deliver it."""
    from .sandbox import github

    rendered = Path(out) / "repositories" / app.source_repository / IMAGE_BUILDSPEC_PATH
    if not rendered.is_file():
        raise RunbookError(f"{rendered} does not exist: render the application first "
                           f"(runbook render --app ... --target sandbox --out {out})")
    repository = app.source_repository
    if not github.exists(sandbox_dir, repository):
        github.create(sandbox_dir, repository, SAMPLE_APPLICATION, "A sample application")
    branch = f"{PULL_REQUEST_BRANCH}-{int(time.time())}"
    event = github.open_pull_request(sandbox_dir, repository, branch, {IMAGE_BUILDSPEC_PATH: rendered.read_text()},
                                     "Build the image with CodeBuild")
    started = _post(url, GITHUB_EVENT_PATH, event.as_json())["builds"]
    return PullRequestRun(repository, event.number, branch, event.head_sha, started)


def _deployment(name: str, image: str) -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n"
            f"spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n"
            f"      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: {name}\n"
            f"        image: {image}\n        ports:\n        - containerPort: 80\n")


def sample_manifests(resolved) -> dict[str, str]:
    """A tiny real manifests repository for the app's manifests tool, with a source for every deployment."""
    app = resolved.app
    tool = app.manifests_tool.value
    files: dict[str, str] = {}
    sources = sorted({dep.manifest_source for stage in resolved.stages for dep in stage.deployments})
    if tool == "kustomize":
        files["base/kustomization.yaml"] = "resources:\n- deployment.yaml\n"
        files["base/deployment.yaml"] = _deployment(app.name, app.ecr_repository)
        for source in sources:
            up = "/".join([".."] * len(Path(source).parts))
            files[f"{source}/kustomization.yaml"] = f"namespace: {app.name}\nresources:\n- {up}/base\n"
    elif tool == "helm":
        chart = app.helm_chart
        files[f"{chart}/Chart.yaml"] = f"apiVersion: v2\nname: {app.name}\nversion: 0.1.0\n"
        files[f"{chart}/values.yaml"] = "image:\n  repository: unset\n  tag: unset\n"
        files[f"{chart}/templates/deployment.yaml"] = _deployment(
            app.name, "{{ .Values.image.repository }}:{{ .Values.image.tag }}")
        for source in sources:
            files[source] = "replicaCount: 1\n"
    else:
        for source in sources:
            files[f"{source}/deployment.yaml"] = _deployment(app.name, "__IMAGE__")
    return files


def _stage(resolved, name: str | None):
    """The stage called ``name`` (validated with the settings), or the first."""
    return next(s for s in resolved.stages if s.name == name) if name else resolved.stages[0]


def open_sandbox_merge(resolved, out: Path, sandbox_dir: Path, url: str,
                       stage_name: str | None = None) -> tuple[PullRequestRun, list[str]]:
    """Merge a pull request into a stage's branch (the first stage's unless named), as a person would; returns the
    merge and what it started.

    The manifests repository gets the rendered manifests buildspec and a sample of the app's manifests
    (first time only); the application repository gets a pull request with the image buildspec,
    merged into the first stage's branch. Its push starts that stage's pipeline (the connection's trigger).
    """
    from .sandbox import github

    app = resolved.app
    for repository, rendered_path in ((app.manifests_repository, MANIFESTS_BUILDSPEC_PATH),
                                      (app.source_repository, IMAGE_BUILDSPEC_PATH)):
        if not (Path(out) / "repositories" / repository / rendered_path).is_file():
            raise RunbookError(f"{Path(out) / 'repositories' / repository / rendered_path} does not exist: render the "
                               f"application first (runbook render --app ... --target sandbox --out {out})")
    manifests = {MANIFESTS_BUILDSPEC_PATH: (Path(out) / "repositories" / app.manifests_repository /
                                            MANIFESTS_BUILDSPEC_PATH).read_text()}
    stage = _stage(resolved, stage_name)
    if not github.exists(sandbox_dir, app.manifests_repository):
        github.create(sandbox_dir, app.manifests_repository, {**sample_manifests(resolved), **manifests},
                      "Sample manifests and their buildspec")
    else:
        github.commit(sandbox_dir, app.manifests_repository, stage.manifests_branch, manifests,
                      "The rendered manifests buildspec")
    if not github.exists(sandbox_dir, app.source_repository):
        github.create(sandbox_dir, app.source_repository, SAMPLE_APPLICATION, "A sample application")
    if stage.branch != github.DEFAULT_BRANCH and github.resolve(sandbox_dir, app.source_repository,
                                                                 f"refs/heads/{stage.branch}") is None:
        github.commit(sandbox_dir, app.source_repository, stage.branch, {}, f"Branch {stage.branch}",
                      new_branch_from=github.DEFAULT_BRANCH)
    branch = f"{MERGE_BRANCH}-{int(time.time())}"
    rendered = (Path(out) / "repositories" / app.source_repository / IMAGE_BUILDSPEC_PATH).read_text()
    event = github.open_pull_request(sandbox_dir, app.source_repository, branch, {IMAGE_BUILDSPEC_PATH: rendered},
                                     "Build the image with CodeBuild", base=stage.branch)
    push = github.merge_pull_request(sandbox_dir, app.source_repository, event.number)
    started = _post(url, GITHUB_EVENT_PATH, push.as_json())["builds"]
    return PullRequestRun(app.source_repository, event.number, branch, push.head_sha, started), started


def follow_execution(codepipeline, name: str, execution_id: str, on_change: Callable[[dict, list[dict]], None],
                     limit: float = DEFAULT_LIMIT, poll: float = 1.0) -> tuple[dict, list[dict]]:
    """Poll an execution until it ends or ``limit`` passes; ``on_change(execution, actions)`` on each change."""
    deadline = time.monotonic() + limit
    seen = None
    while True:
        execution = codepipeline.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
            "pipelineExecution"]
        actions = codepipeline.list_action_executions(
            pipelineName=name, filter={"pipelineExecutionId": execution_id})["actionExecutionDetails"]
        marker = (execution["status"], tuple((a["stageName"], a["actionName"], a["status"]) for a in actions))
        if marker != seen:
            seen = marker
            on_change(execution, actions)
        if execution["status"] not in ("InProgress", "Stopping") or time.monotonic() > deadline:
            return execution, actions
        time.sleep(poll)


# What a failed build's log says, what it means, and what to do: (a regular expression on a line, the cause, the remedy).
DIAGNOSES = (
    (r"AccessDenied\) when calling the AssumeRole operation.*on resource: (\S+)",
     "the deploy project's role may not assume {0}: its trust asks for the tag cluster.<cluster>.deploy=true "
     "on the caller",
     "re-apply the CD root (the deploy-project module tags its role for each cluster it deploys to), and check "
     "the deploy role's trust in the common root"),
    (r"You must be logged in to the server \(Unauthorized\)",
     "the deploy role has no access to the cluster's Kubernetes API (thoughtbot's deploy-role grants only "
     "eks:DescribeCluster)",
     "set deploy_access: access_entry for the cluster in org.yaml and re-apply the common root, or map the role "
     "in aws-auth"),
    (r"login to (\S+) denied|no basic auth credentials for (\S+)",
     "the image build could not log in to ECR {0}",
     "check the image project's ECR permissions (ecr:GetAuthorizationToken) and the registry in the buildspec"),
    (r"refused by ECR: RepositoryNotFoundException|RepositoryNotFoundException",
     "the ECR repository the buildspec pushes to does not exist",
     "check ecr_repository in the app's parameters and re-apply the CI root"),
    (r"no matching artifact paths found",
     "the manifests build wrote nothing where its buildspec's artifacts section looks",
     "check manifest_path and manifest_source in the app's parameters, then render and push the buildspec again"),
    (r"reference not found for primary source and source version (\S+)",
     "the source version {0} does not exist in the repository",
     "push the branch or open the pull request first"),
    (r"Connection \S+ is not available",
     "the CodeStar connection's GitHub handshake is not complete",
     "complete the handshake in the console (in the sandbox: runbook sandbox complete-handshake)"),
)


def diagnose(lines: list[str]) -> tuple[str, str] | None:
    """The first known cause a failed build's log shows, with its remedy; None when none is known."""
    import re

    for line in lines:
        for pattern, cause, remedy in DIAGNOSES:
            match = re.search(pattern, line)
            if match:
                found = next((g for g in match.groups() if g), "") if match.groups() else ""
                return cause.format(found), remedy
    return None


def build_log(logs, build: dict) -> list[str]:
    """Every line of a build's CloudWatch Logs stream (one page is enough for the sandbox's builds)."""
    return _new_log_lines(logs, build, {})


def action_build_logs(codebuild, logs) -> Callable[[dict], list[str]]:
    """A reader of a CodeBuild action's build log (no lines for other actions) that reads each build once."""
    read: dict[str, list[str]] = {}

    def log_of(action: dict) -> list[str]:
        build_id = (action.get("output") or {}).get("executionResult", {}).get("externalExecutionId") or ""
        if action["input"]["actionTypeId"].get("provider") != "CodeBuild" or ":" not in build_id:
            return []
        if build_id not in read:
            builds = codebuild.batch_get_builds(ids=[build_id])["builds"]
            read[build_id] = build_log(logs, builds[0]) if builds else []
        return read[build_id]
    return log_of


def diagnose_actions(actions: list[dict], log_of: Callable[[dict], list[str]]) -> list[tuple[str, str] | None]:
    """For each failed action of an execution, its cause and remedy, read from its summary and its build's log."""
    return [diagnose([_summary(action), *log_of(action)]) for action in actions if action["status"] == "Failed"]


def _view(build: dict) -> BuildView:
    phases = [(p["phaseType"], p.get("phaseStatus", ""), "; ".join(c.get("message", "") for c in p.get("contexts") or []))
              for p in build.get("phases") or []]
    return BuildView(build["id"], build["projectName"], build["buildStatus"], build.get("currentPhase", ""), phases,
                     build.get("sourceVersion", ""), build.get("resolvedSourceVersion", ""))


def follow(codebuild, logs, build_ids: list[str], on_change: Callable[[BuildView, list[str]], None],
           limit: float = DEFAULT_LIMIT, poll: float = 1.0) -> list[BuildView]:
    """Poll the builds until all are done or ``limit`` seconds pass; ``on_change(view, new_log_lines)`` on each change.

    Returns the last views. Builds still running at the limit are left running (and show IN_PROGRESS).
    """
    seen: dict[str, tuple[str, int]] = {}
    tokens: dict[str, str | None] = {}
    views: dict[str, BuildView] = {}
    deadline = time.monotonic() + limit
    while True:
        for build in codebuild.batch_get_builds(ids=build_ids)["builds"]:
            view = _view(build)
            new_lines = _new_log_lines(logs, build, tokens)
            view.log_lines = views[view.id].log_lines + new_lines if view.id in views else new_lines
            views[view.id] = view
            marker = (view.phase + view.status, len(view.log_lines))
            if seen.get(view.id) != marker:
                seen[view.id] = marker
                on_change(view, new_lines)
        if all(v.done for v in views.values()) and len(views) == len(build_ids):
            return [views[i] for i in build_ids]
        if time.monotonic() > deadline:
            return [views[i] for i in build_ids if i in views]
        time.sleep(poll)


def _new_log_lines(logs, build: dict, tokens: dict[str, str | None]) -> list[str]:
    group, stream = (build.get("logs") or {}).get("groupName"), (build.get("logs") or {}).get("streamName")
    if not group or not stream:
        return []
    from botocore.exceptions import ClientError

    arguments = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    if tokens.get(build["id"]):
        arguments["nextToken"] = tokens[build["id"]]
    try:
        page = logs.get_log_events(**arguments)
    except ClientError:
        return []   # the stream is not there yet
    tokens[build["id"]] = page.get("nextForwardToken")
    return [event["message"] for event in page.get("events", [])]


def run_pull_request(app, out: Path, sandbox_dir: Path, url: str, clients, account: str, *, limit: float,
                     progress: Callable[[str], None]) -> PipelineRun:
    """Open the first pull request in the sandbox and follow the builds its webhook started, to their end or ``limit``.

    ``progress`` gets every change as a line: a build's phase and status, each new log line.
    """
    from .sandbox import github

    opened = open_sandbox_pull_request(app, out, sandbox_dir, url)
    progress(f"opened pull request #{opened.number} in {opened.repository} (sandbox GitHub), branch {opened.branch}, "
             f"commit {opened.head[:12]}")
    run = PipelineRun("pull-request", opened.repository, opened.number, github.DEFAULT_BRANCH, opened.head)
    if not opened.build_ids:
        run.nothing_started = (f"no CodeBuild webhook started a build for {opened.repository}: apply the CI root "
                               "first (runbook apply --app ... --target sandbox, or notebook 02)")
        return run
    return _follow_builds(run, opened.build_ids, app.ecr_repository, clients, account, limit, progress)


def start_build(resolved, source_version: str, clients, account: str, *, limit: float,
                progress: Callable[[str], None]) -> PipelineRun:
    """StartBuild of the image project for ``source_version`` (``pr/N``, a branch or a commit), followed to its end.

    What a person does on live when the webhook did not start one (or to build again). The caller approved it.
    """
    project = resolved.image_project_name
    build = clients.client("codebuild", account).start_build(projectName=project, sourceVersion=source_version)["build"]
    progress(f"started build {build['id']} of {project} for {source_version}")
    number = int(source_version[3:]) if re.fullmatch(r"pr/\d+", source_version) else 0
    run = PipelineRun("pull-request", resolved.app.source_repository, number, "", source_version)
    return _follow_builds(run, [build["id"]], resolved.app.ecr_repository, clients, account, limit, progress)


def _follow_builds(run: PipelineRun, build_ids: list[str], ecr_repository: str, clients, account: str, limit: float,
                   progress: Callable[[str], None]) -> PipelineRun:
    """Follow ``build_ids`` into ``run``: phases and log lines to ``progress``; outcomes, causes, the image in ECR."""
    last: dict[str, str] = {}

    def show(view: BuildView, new_lines: list[str]) -> None:
        state = f"{view.phase} {view.status}"
        if last.get(view.id) != state:
            last[view.id] = state
            progress(f"[{view.project}] {state}")
        for line in new_lines:
            progress(f"[{view.project}]   {line}")

    run.builds = follow(clients.client("codebuild", account), clients.client("logs", account), build_ids, show,
                        limit=limit)
    run.still_running = len(run.builds) < len(build_ids) or any(not v.done for v in run.builds)
    run.causes = [diagnose(v.log_lines) for v in run.builds if v.done and v.status != "SUCCEEDED"]
    built = [v.resolved for v in run.builds if v.status == "SUCCEEDED" and v.resolved]
    for commit in built:   # the image is tagged with the commit the build resolved its source to
        run.images += _images_tagged(clients.client("ecr", account), ecr_repository, commit)
    return run


def _images_tagged(ecr, repository: str, tag: str) -> list[str]:
    """``repository:tag`` when ECR holds an image with that tag (read back, not assumed from the build's log)."""
    from botocore.exceptions import ClientError

    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    except ClientError:
        return []
    return [f"{repository}:{tag}"] if found else []


def run_merge(resolved, out: Path, sandbox_dir: Path, url: str, clients, account: str, *, limit: float,
              progress: Callable[[str], None], stage_name: str | None = None) -> PipelineRun:
    """Merge a pull request into a stage's branch (the first's unless named) in the sandbox; follow what it started."""
    merge, started = open_sandbox_merge(resolved, out, sandbox_dir, url, stage_name)
    stage = _stage(resolved, stage_name)
    progress(f"merged pull request #{merge.number} into {stage.branch} of {merge.repository} (sandbox GitHub), "
             f"commit {merge.head[:12]}")
    run = PipelineRun("merge", merge.repository, merge.number, stage.branch, merge.head)
    executions = [item.split(": ", 1) for item in started if item.startswith("pipeline ")]
    if not executions:
        run.nothing_started = (f"no pipeline watches {merge.repository}'s {stage.branch}: apply the CD root first "
                               "(runbook apply --app ... --target sandbox, or notebook 03)")
        return run
    return _follow_executions(run, [(label.removeprefix("pipeline "), execution_id) for label, execution_id in executions],
                              clients, account, limit, progress)


def start_pipeline(resolved, stage_name: str | None, clients, account: str, *, limit: float,
                   progress: Callable[[str], None]) -> PipelineRun:
    """StartPipelineExecution of a stage's pipeline (the first stage unless named), followed to its end. Approved by the caller."""
    stage = _stage(resolved, stage_name)
    execution_id = clients.client("codepipeline", account).start_pipeline_execution(
        name=stage.pipeline_name)["pipelineExecutionId"]
    progress(f"started pipeline {stage.pipeline_name} execution {execution_id} (the head of {stage.branch})")
    run = PipelineRun("merge", resolved.app.source_repository, 0, stage.branch, "")
    return _follow_executions(run, [(stage.pipeline_name, execution_id)], clients, account, limit, progress)


def _follow_executions(run: PipelineRun, executions: list[tuple[str, str]], clients, account: str, limit: float,
                       progress: Callable[[str], None]) -> PipelineRun:
    """Follow each (pipeline, execution id) into ``run``: each action's change to ``progress``; outcomes, causes."""
    codepipeline = clients.client("codepipeline", account)
    for name, execution_id in executions:
        shown: set[tuple[str, str, str]] = set()

        def show(_execution, actions, name=name, shown=shown) -> None:
            for action in reversed(actions):
                key = (action["stageName"], action["actionName"], action["status"])
                if key not in shown:
                    shown.add(key)
                    summary = _summary(action)
                    progress(f"[{name}] {action['stageName']}.{action['actionName']}: {action['status']}"
                             + (f" ({summary})" if summary else ""))

        execution, actions = follow_execution(codepipeline, name, execution_id, show, limit=limit)
        run.executions.append(ExecutionView(
            name, execution_id, execution["status"], execution.get("statusSummary", ""),
            [ActionView(a["stageName"], a["actionName"], a["status"], _summary(a)) for a in reversed(actions)]))
        run.still_running = run.still_running or execution["status"] in ("InProgress", "Stopping")
        log_of = action_build_logs(clients.client("codebuild", account), clients.client("logs", account))
        run.causes += diagnose_actions(actions, log_of)
        run.not_emulated += _not_emulated(actions, log_of)
    return run


def _not_emulated(actions: list[dict], log_of: Callable[[dict], list[str]]) -> list[str]:
    """What the deploy builds say they did not really do (``NOT_EMULATED: ...`` lines of their logs), in order."""
    return [line.strip() for action in reversed(actions) if action["stageName"] == "Deploy"
            for line in log_of(action) if "NOT_EMULATED" in line]


def _summary(action: dict) -> str:
    return (action.get("output") or {}).get("executionResult", {}).get("externalExecutionSummary", "")


def live_steps(app, out: Path) -> list[str]:
    """The commands that put the rendered image buildspec into the application's repository on GitHub."""
    rendered = Path(out) / "repositories" / app.source_repository / IMAGE_BUILDSPEC_PATH
    return [
        f"git clone git@github.com:{app.source_repository}.git && cd {app.source_repository.split('/')[1]}",
        f"git switch -c {PULL_REQUEST_BRANCH}",
        f"mkdir -p {Path(IMAGE_BUILDSPEC_PATH).parent} && cp {rendered.resolve()} {IMAGE_BUILDSPEC_PATH}",
        f"git add {IMAGE_BUILDSPEC_PATH} && git commit -m 'Build the image with CodeBuild'",
        f"git push -u origin {PULL_REQUEST_BRANCH}   # then open the pull request on GitHub: the webhook starts the build",
    ]
