"""Real builds for the sandbox's CodeBuild: StartBuild runs the project's buildspec, BatchGetBuilds reports it.

moto's own StartBuild records a build that "succeeds" the moment it is read. Here a
build is run for real, on a thread of the emulator (requests keep being answered):

- DOWNLOAD_SOURCE checks out the project's GitHub source from the sandbox's GitHub
  (``sandbox/github.py``) at the source version (``pr/N``, a branch or a commit);
  a version that does not exist fails the phase with CLIENT_ERROR, as on AWS;
- the buildspec is read from the checkout (``source.buildspec`` or ``buildspec.yml``):
  not YAML, or not version 0.2, fails with YAML_FILE_ERROR;
- INSTALL, PRE_BUILD, BUILD and POST_BUILD run their commands in one bash, so
  variables and the working folder carry from one command to the next, as in
  buildspec version 0.2; a failing command fails its phase; after a failed INSTALL
  or PRE_BUILD the build goes to FINALIZING, after a failed BUILD, POST_BUILD still
  runs (with CODEBUILD_BUILD_SUCCEEDING=0);
- the environment holds what AWS documents (CODEBUILD_* and the webhook's
  CODEBUILD_WEBHOOK_*), the project's and the override's variables, the buildspec's
  ``env.variables`` and ``env.parameter-store`` values, and credentials of the
  project's service role from the emulated STS; the real AWS CLI, real git and the
  ``docker`` stand-in (``sandbox/docker_standin.py``) are on its PATH, pointed at
  the emulator; nothing else of the machine's environment reaches it (no proxy,
  no AWS profile);
- each line goes to CloudWatch Logs (group ``/aws/codebuild/<project>``, stream the
  build's id) and to ``builds/<id>/build.log``; a line holding a value of a
  parameter-store variable is masked;
- the build runs in ``<sandbox>/builds/<id>/`` and is stopped at its time limit
  (TIMED_OUT) or by StopBuild (STOPPED).
"""

from __future__ import annotations

import datetime
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from ..artifacts import ArtifactError, read_artifact, write_artifact
from ..runtime import settings as _settings

RUN_PHASES = ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD")
BUILDSPEC_KEYS = {"install": "INSTALL", "pre_build": "PRE_BUILD", "build": "BUILD", "post_build": "POST_BUILD"}
DEFAULT_BUILDSPEC = "buildspec.yml"
MASK = "***"
# Seconds of the sandbox per minute of a project's timeout (RUNBOOK_SANDBOX_BUILD_MINUTE, for tests: a build
# limited to 5 minutes is stopped after 5 of these).
MINUTE_ENV = "RUNBOOK_SANDBOX_BUILD_MINUTE"
_running: dict[str, "Build"] = {}   # builds not finished yet, by id


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _stamp(moment: datetime.datetime) -> float:
    """A timestamp as AWS's JSON protocol carries it: seconds since the epoch."""
    return round(moment.timestamp(), 3)


class BuildError(Exception):
    """A phase failed: ``status`` is the phase context's status code (CLIENT_ERROR, COMMAND_EXECUTION_ERROR, ...)."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


class Build:
    """One build: its record (what BatchGetBuilds returns) and the thread that runs it."""

    def __init__(self, backend: Any, project: Any, source_version: str | None, overrides: list[dict],
                 webhook: dict | None, initiator: str, timeout_minutes: int | None = None,
                 inputs: list[tuple[str, dict]] | None = None, output: dict | None = None):
        self.backend, self.project, self.webhook = backend, project, webhook or {}
        # From a pipeline: its input artifacts (name, artifact), the primary first, and where the output goes.
        self.inputs, self.output = inputs, output
        self.spec: dict = {}
        metadata = project.project_metadata
        name = metadata["name"]
        self.uuid = str(uuid.uuid4())
        self.id = f"{name}:{self.uuid}"
        number = len(backend.build_history.get(name, [])) + 1
        started = _now()
        self.started = time.monotonic()
        self.overrides = overrides
        self.masked: list[str] = []
        minutes = int(timeout_minutes or metadata.get("timeoutInMinutes") or 60)
        self.record: dict[str, Any] = {
            "id": self.id, "arn": f"arn:aws:codebuild:{backend.region_name}:{backend.account_id}:build/{self.id}",
            "buildNumber": number, "startTime": _stamp(started), "currentPhase": "SUBMITTED",
            "buildStatus": "IN_PROGRESS", "sourceVersion": source_version or metadata.get("sourceVersion") or "",
            "projectName": name, "phases": [], "source": dict(metadata.get("source") or {}),
            "secondarySources": list(metadata.get("secondarySources") or []),
            "artifacts": {}, "environment": dict(metadata.get("environment") or {}),
            "serviceRole": metadata.get("serviceRole"), "timeoutInMinutes": minutes,
            "queuedTimeoutInMinutes": metadata.get("queuedTimeoutInMinutes") or 480,
            "buildComplete": False, "initiator": initiator,
            "logs": {"groupName": f"/aws/codebuild/{name}", "streamName": self.uuid,
                     "cloudWatchLogs": {"status": "ENABLED"}},
        }
        self.folder = _settings["directory"] / "builds" / self.uuid
        self.timeout = minutes * float(os.environ.get(MINUTE_ENV) or 60)
        self.stopped = False
        self.unread = b""   # the shell's output not yet split into lines

    # -- the record, changed under the emulator's lock -------------------------------
    def _phase(self, phase: str) -> None:
        with _settings["lock"]:
            self._close_phase("SUCCEEDED")
            self.record["phases"].append({"phaseType": phase, "startTime": _stamp(_now())})
            self.record["currentPhase"] = phase

    def _close_phase(self, status: str, context: tuple[str, str] | None = None) -> None:
        if not self.record["phases"] or "endTime" in self.record["phases"][-1]:
            return
        phase = self.record["phases"][-1]
        end = _now()
        phase.update(phaseStatus=status, endTime=_stamp(end), durationInSeconds=int(end.timestamp() - phase["startTime"]))
        if context:
            phase["contexts"] = [{"statusCode": context[0], "message": context[1]}]

    def _fail_phase(self, status: str, error: BuildError) -> None:
        with _settings["lock"]:
            self._close_phase(status, (error.status, str(error)))

    def _finish(self, status: str) -> None:
        with _settings["lock"]:
            self._close_phase("SUCCEEDED")
            self.record["phases"].append({"phaseType": "COMPLETED", "startTime": _stamp(_now())})
            self.record.update(currentPhase="COMPLETED", buildStatus=status, buildComplete=True,
                               endTime=_stamp(_now()))

    # -- logs ---------------------------------------------------------------------------------
    def log(self, lines: list[str]) -> None:
        if not lines:
            return
        shown = []
        for line in lines:
            for secret in self.masked:
                if secret:   # an empty value masks nothing
                    line = line.replace(secret, MASK)
            shown.append(line)
        with open(self.folder / "build.log", "a") as handle:
            handle.writelines(line + "\n" for line in shown)
        from moto.logs.models import logs_backends

        group, stream = self.record["logs"]["groupName"], self.record["logs"]["streamName"]
        with _settings["lock"]:
            logs = logs_backends[self.backend.account_id][self.backend.region_name]
            if group not in logs.groups:
                logs.create_log_group(group, {})
            if stream not in logs.groups[group].streams:
                logs.create_log_stream(group, stream)
            stamp = int(time.time() * 1000)
            logs.put_log_events(group, stream, [{"timestamp": stamp, "message": line} for line in shown])

    # -- the run ------------------------------------------------------------------------------
    def start(self) -> None:
        self.folder.mkdir(parents=True, mode=0o700)
        threading.Thread(target=self.run, name=f"build {self.id}", daemon=True).start()

    def run(self) -> None:
        try:
            self._run()
        finally:
            _running.pop(self.id, None)

    def _run(self) -> None:
        self.log([f"[Container] sandbox build {self.id} (the sandbox runs this buildspec for real; "
                  "docker is a labelled stand-in)"])
        try:
            for phase in ("QUEUED", "PROVISIONING"):
                self._phase(phase)
            environment = self._environment()
            self._phase("DOWNLOAD_SOURCE")
            source_dir, spec = self._download_source(environment)
        except Exception as exc:   # the build fails as AWS would say; the emulator keeps running
            error = exc if isinstance(exc, BuildError) else BuildError("CLIENT_ERROR", str(exc))
            self._fail_phase("FAILED", error)
            self.log([f"[Container] Phase context status code: {error.status} Message: {error}"])
            self._phase("FINALIZING")
            self._finish("FAILED")
            return
        try:
            status = self._run_phases(spec, environment, source_dir)
        except Exception as exc:
            self._fail_phase("FAULT", BuildError("FAULT", f"the sandbox could not run the build: {exc}"))
            status = "FAULT"
        if any(phase["phaseType"] == "BUILD" for phase in self.record["phases"]) and status in ("SUCCEEDED", "FAILED"):
            self._phase("UPLOAD_ARTIFACTS")   # attempted whenever BUILD ran, even when it failed
            if self.output is not None:
                try:
                    self._upload(source_dir)
                except BuildError as error:
                    self._fail_phase("FAILED", error)
                    self.log([f"[Container] Phase context status code: {error.status} Message: {error}"])
                    status = "FAILED"
        self._phase("FINALIZING")
        self._finish(status)

    def _environment(self) -> dict[str, str]:
        confined(self.folder)   # bubblewrap is there, or the build fails now, before anything runs
        metadata = self.project.project_metadata
        credentials = _assume(self.backend, self.record["serviceRole"], self.uuid)
        region = self.backend.region_name
        venv_bin = str(Path(sys.executable).parent)
        home = self.folder / "home"
        home.mkdir(mode=0o700)
        tools = self.folder / "bin"
        tools.mkdir()
        from ...build_tools import TOOLS_ENV, wrapper

        docker = tools / "docker"
        docker.write_text(f"#!/bin/sh\nexec {sys.executable} -m runbook_lib.sandbox.docker_standin \"$@\"\n")
        docker.chmod(0o755)
        curl = tools / "curl"
        curl.write_text(wrapper("curl"))
        curl.chmod(0o755)
        (self.folder / "usr-local-bin").mkdir()
        env = {
            "PATH": f"{tools}:{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_ENDPOINT_URL": _settings["url"],
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"], "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "CODEBUILD_BUILD_ID": self.id, "CODEBUILD_BUILD_ARN": self.record["arn"],
            "CODEBUILD_BUILD_NUMBER": str(self.record["buildNumber"]), "CODEBUILD_INITIATOR": self.record["initiator"],
            "CODEBUILD_BUILD_IMAGE": self.record["environment"].get("image", ""),
            "CODEBUILD_SOURCE_VERSION": self.record["sourceVersion"],
            "CODEBUILD_SOURCE_REPO_URL": self.record["source"].get("location", ""),
            "CODEBUILD_START_TIME": str(int(time.time() * 1000)), "CODEBUILD_BUILD_SUCCEEDING": "1",
            "CODEBUILD_LOG_PATH": self.uuid, "CODEBUILD_PROJECT_NAME": metadata["name"],
            TOOLS_ENV: os.environ.get(TOOLS_ENV, ""),
        }
        env.update({f"CODEBUILD_WEBHOOK_{key}": value for key, value in self.webhook.items()})
        variables = list(self.record["environment"].get("environmentVariables") or []) + list(self.overrides)
        for variable in variables:
            value = variable.get("value", "")
            if variable.get("type") == "PARAMETER_STORE":
                value = _parameter(self.backend, value)
                self.masked.append(value)
            env[variable["name"]] = value
        return env

    def _download_source(self, env: dict[str, str]) -> tuple[Path, dict]:
        from ... import github

        if self.inputs is not None:
            return self._download_inputs(env)
        directory = _settings["directory"]
        source = self.record["source"]
        repository = github.repository_of(source.get("location", ""))
        if source.get("type") != "GITHUB" or repository is None:
            raise BuildError("CLIENT_ERROR", f"source type {source.get('type')} at {source.get('location')!r} is "
                             "not emulated: the sandbox builds GitHub sources from its own repositories")
        version = self.record["sourceVersion"] or None
        commit = github.resolve(directory, repository, version)
        if commit is None:
            if not github.exists(directory, repository):
                raise BuildError("CLIENT_ERROR", f"repository not found for primary source: {repository} "
                                 "(no such repository in the sandbox's GitHub)")
            raise BuildError("CLIENT_ERROR", f"reference not found for primary source and source version "
                             f"{version or github.DEFAULT_BRANCH}")
        source_dir = self.folder / "src"
        github.checkout(directory, repository, commit, source_dir)
        env.update(CODEBUILD_SRC_DIR=str(source_dir), CODEBUILD_RESOLVED_SOURCE_VERSION=commit)
        with _settings["lock"]:
            self.record["resolvedSourceVersion"] = commit
        for secondary in self.record["secondarySources"]:
            name = secondary.get("sourceIdentifier", "")
            other = github.repository_of(secondary.get("location", ""))
            other_commit = github.resolve(directory, other, None) if other else None
            if other_commit is None:
                raise BuildError("CLIENT_ERROR", f"repository not found for secondary source {name}: "
                                 f"{secondary.get('location')}")
            into = self.folder / f"src_{name}"
            github.checkout(directory, other, other_commit, into)
            env[f"CODEBUILD_SRC_DIR_{name}"] = str(into)
        self.log([f"[Container] Checked out {repository} at {commit[:12]} ({version or github.DEFAULT_BRANCH})"])
        return source_dir, self._buildspec(source_dir, env)

    def _download_inputs(self, env: dict[str, str]) -> tuple[Path, dict]:
        """A pipeline's input artifacts: the primary in CODEBUILD_SRC_DIR, each other in CODEBUILD_SRC_DIR_<name>."""
        from ... import github
        source_dir = self.folder / "src"
        for number, (name, artifact) in enumerate(self.inputs or []):
            into = source_dir if number == 0 else self.folder / f"src_{name}"
            if artifact["type"] == "clone_ref":   # CODEBUILD_CLONE_REF: CodeBuild clones the repository itself
                github.checkout(_settings["directory"], artifact["repository"], artifact["commit"], into)
                resolved = artifact["commit"]
            else:
                into.mkdir(parents=True)
                try:
                    read_artifact(artifact, into)
                except ArtifactError as exc:
                    raise BuildError("CLIENT_ERROR", str(exc)) from None
                resolved = artifact.get("revision", "")
            if number == 0:
                env.update(CODEBUILD_SRC_DIR=str(into), CODEBUILD_RESOLVED_SOURCE_VERSION=resolved)
                with _settings["lock"]:
                    self.record["resolvedSourceVersion"] = resolved
            else:
                env[f"CODEBUILD_SRC_DIR_{name}"] = str(into)
            self.log([f"[Container] Input artifact {name} in {into.name} ({artifact['type']}, {resolved[:12]})"])
        return source_dir, self._buildspec(source_dir, env)

    def _upload(self, source_dir: Path) -> None:
        """Zip what the buildspec's ``artifacts`` names into the pipeline's output artifact (an S3 object)."""
        import fnmatch
        import io
        import zipfile

        section = self.spec.get("artifacts") or {}
        base = (source_dir / str(section.get("base-directory") or ".")).resolve()
        patterns = [str(p) for p in section.get("files") or []]
        if not base.is_dir() or source_dir.resolve() not in [base, *base.parents]:
            raise BuildError("CLIENT_ERROR", f"no matching base directory path found for {section.get('base-directory')}")
        found = [path for path in sorted(base.rglob("*")) if path.is_file()
                 and any(fnmatch.fnmatch(str(path.relative_to(base)), pattern.replace("**/", "*"))
                         or pattern in ("**/*", "**") for pattern in patterns)]
        if not found:
            raise BuildError("CLIENT_ERROR", f"no matching artifact paths found (files {patterns} under "
                             f"{section.get('base-directory') or '.'})")
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in found:
                archive.write(path, str(path.relative_to(base)))
        write_artifact(self.output, data.getvalue(), self.record.get("resolvedSourceVersion", ""))
        self.log([f"[Container] Uploaded {len(found)} file(s) to s3://{self.output['bucket']}/{self.output['key']}"])

    def _buildspec(self, source_dir: Path, env: dict[str, str]) -> dict:
        name = self.record["source"].get("buildspec") or DEFAULT_BUILDSPEC
        if "\n" in name:   # an inline buildspec
            text, where = name, "the project's inline buildspec"
        else:
            file = (source_dir / name).resolve()
            if source_dir.resolve() not in file.parents or not file.is_file():
                raise BuildError("YAML_FILE_ERROR", f"stat {name}: no such file or directory in the source")
            text, where = file.read_text(errors="replace"), name
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BuildError("YAML_FILE_ERROR", f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(spec, dict) or str(spec.get("version")) != "0.2":
            raise BuildError("YAML_FILE_ERROR", f"{where}: version {str(spec.get('version')) if isinstance(spec, dict) else None!r}"
                             " is not supported; the sandbox runs buildspec version 0.2")
        self.spec = spec
        spec_env = spec.get("env") or {}
        for key, value in (spec_env.get("variables") or {}).items():
            env[str(key)] = str(value)
        for key, name in (spec_env.get("parameter-store") or {}).items():
            value = _parameter(self.backend, str(name))
            self.masked.append(value)
            env[str(key)] = value
        return spec

    def _run_phases(self, spec: dict, env: dict[str, str], source_dir: Path) -> str:
        phases = spec.get("phases") or {}
        self.env, self.source_dir = env, source_dir
        self.shell = self._spawn()
        status = "SUCCEEDED"
        try:
            for key, phase in BUILDSPEC_KEYS.items():
                self._phase(phase)
                if phase == "POST_BUILD" and status == "FAILED":
                    self._send("export CODEBUILD_BUILD_SUCCEEDING=0")
                outcome = self._commands(phase, (phases.get(key) or {}).get("commands") or [])
                if outcome != "SUCCEEDED":
                    status = outcome
                    if outcome in ("TIMED_OUT", "STOPPED") or phase in ("INSTALL", "PRE_BUILD"):
                        return status   # straight to FINALIZING; after a failed BUILD, POST_BUILD still runs
            return status
        finally:
            if self.shell.poll() is None:
                os.killpg(self.shell.pid, signal.SIGKILL)
            self.shell.wait()

    def _spawn(self) -> subprocess.Popen:
        """The build's bash, inside bubblewrap; a new one when a command ended the last (``exit``)."""
        return subprocess.Popen([*confined(self.folder), "bash", "--noprofile", "--norc"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.source_dir, env=self.env,
                                start_new_session=True, text=True)

    def _commands(self, phase: str, commands: list) -> str:
        """Run one phase's commands; the phase's outcome (SUCCEEDED, FAILED, TIMED_OUT, STOPPED)."""
        for command in commands:
            first = str(command).splitlines()[0][:200] if str(command).strip() else ""
            self.log([f"[Container] Running command {first}"])
            code = self._send(str(command))
            if code == 0:
                continue
            outcome = {-1: "TIMED_OUT", -2: "STOPPED"}.get(code, "FAILED")
            message = (f"Error while executing command: {first}. Reason: exit status {code}"
                       if outcome == "FAILED" else f"build {outcome} while running: {first}")
            self._fail_phase(outcome, BuildError("COMMAND_EXECUTION_ERROR", message))
            self.log([f"[Container] Phase complete: {phase} State: {outcome}",
                      f"[Container] Phase context status code: COMMAND_EXECUTION_ERROR Message: {message}"])
            return outcome
        self.log([f"[Container] Phase complete: {phase} State: SUCCEEDED"])
        return "SUCCEEDED"

    def _send(self, command: str) -> int:
        """Run ``command`` in the build's shell; its output goes to the log. Returns its exit status.

        -1: the build's time ran out; -2: the build was stopped.
        """
        if self.shell.poll() is not None:   # an earlier command ran exit: its variables are gone with it
            self.shell.wait()
            self.shell = self._spawn()
            self.unread = b""
        shell = self.shell
        marker = f"@@runbook-done-{uuid.uuid4().hex}"
        script = self.folder / "command.sh"
        script.write_text(command + "\n")
        shell.stdin.write(f'. "{script}" < /dev/null\nprintf "\\n{marker} %s\\n" "$?"\n')
        shell.stdin.flush()
        pending: list[str] = []
        descriptor = shell.stdout.fileno()
        while True:
            while b"\n" in self.unread:
                raw, _, self.unread = self.unread.partition(b"\n")
                line = raw.decode(errors="replace")
                if line.startswith(marker):
                    if pending and pending[-1] == "":
                        pending.pop()   # the newline printed before the marker
                    self.log(pending)
                    return int(line.split()[-1])
                pending.append(line)
            left = self.timeout - (time.monotonic() - self.started)
            if self.stopped or left <= 0:
                os.killpg(shell.pid, signal.SIGKILL)
                self.log(pending + ([self.unread.decode(errors="replace")] if self.unread else []))
                return -2 if self.stopped else -1
            ready, _, _ = select.select([descriptor], [], [], min(left, 1.0))
            if not ready:
                self.log(pending)
                pending = []
                continue
            chunk = os.read(descriptor, 65536)
            if not chunk:   # the shell is gone (a command ran exit)
                self.log(pending + ([self.unread.decode(errors="replace")] if self.unread else []))
                return shell.wait() or 1
            self.unread += chunk


BWRAP = "bwrap"


def confined(folder: Path) -> list[str]:
    """The bubblewrap command that keeps a build's writes in ``folder``: the machine read-only, /tmp its own,
    /usr/local/bin the build's own (where an install phase puts its tools), and its own process namespace,
    so that every process the build starts ends with it (time limit, StopBuild, the emulator stopping).

    What a build may not read is hidden under empty folders: the sandbox's own folder (its key in
    sandbox.json, the state, the other builds), all but the build's folder, and the user's ~/.aws."""
    bwrap = shutil.which(BWRAP)
    if bwrap is None:
        raise BuildError("CLIENT_ERROR", "bubblewrap (bwrap) is not installed: the sandbox runs a build only inside "
                         "it, so that the build writes nothing outside its folder (apt-get install bubblewrap)")
    hidden = [str(Path(_settings["directory"]))]
    aws_folder = Path.home() / ".aws"
    if aws_folder.is_dir():
        hidden.append(str(aws_folder))
    return [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            *[word for path in hidden for word in ("--tmpfs", path)],
            "--bind", str(folder), str(folder), "--bind", str(folder / "usr-local-bin"), "/usr/local/bin",
            "--unshare-pid", "--die-with-parent", "--new-session", "--chdir", str(folder / "src")]


def _assume(backend: Any, role_arn: str, session: str) -> dict[str, str]:
    """Credentials of the project's service role, from the emulated STS (as CodeBuild gets them)."""
    from moto.sts.models import sts_backends

    with _settings["lock"]:
        role = sts_backends[backend.account_id]["global"].assume_role(
            region_name=backend.region_name, role_session_name=f"codebuild-{session[:40]}", role_arn=role_arn,
            policy=None, duration=3600, external_id=None)
    return {"AccessKeyId": role.access_key_id, "SecretAccessKey": role.secret_access_key,
            "SessionToken": role.session_token}


def _parameter(backend: Any, name: str) -> str:
    from moto.ssm.models import ssm_backends

    from .exceptions import InvalidInputException

    with _settings["lock"]:
        found = ssm_backends[backend.account_id][backend.region_name].get_parameter(name)
    if found is None:
        raise InvalidInputException(f"Parameter {name} does not exist in the parameter store")
    return found.value


def stop(build_id: str) -> bool:
    """Ask a running build to stop; False when it is not running."""
    build = _running.get(build_id)
    if build is None:
        return False
    build.stopped = True
    return True


def stop_all() -> None:
    """Kill every running build's shell (the emulator is stopping): nothing a build started outlives it."""
    for build in list(_running.values()):
        build.stopped = True
        shell = getattr(build, "shell", None)
        if shell is not None and shell.poll() is None:
            try:
                os.killpg(shell.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start(backend: Any, project_name: str, source_version: str | None, overrides: list[dict] | None = None,
          webhook: dict | None = None, initiator: str = "sandbox", timeout_minutes: int | None = None,
          inputs: list[tuple[str, dict]] | None = None, output: dict | None = None) -> dict:
    """Record a new build of ``project_name`` in moto's CodeBuild backend and start running it; returns its record.

    Called under the emulator's lock (from a request).
    """
    from .exceptions import InvalidInputException, ResourceNotFoundException

    if timeout_minutes is not None and not 5 <= int(timeout_minutes) <= 2160:
        raise InvalidInputException(f"Value '{timeout_minutes}' at 'timeoutInMinutesOverride' failed to satisfy "
                                    "constraint: Member must have value between 5 and 2160")
    project = backend.codebuild_projects.get(project_name)
    if project is None:
        raise ResourceNotFoundException(f"Project cannot be found: arn:aws:codebuild:{backend.region_name}:"
                                        f"{backend.account_id}:project/{project_name}")
    if not _settings:
        raise ResourceNotFoundException("this emulator runs no builds (it was not started by the sandbox)")
    build = Build(backend, project, source_version, list(overrides or []), webhook, initiator, timeout_minutes,
                  inputs, output)
    backend.build_history.setdefault(project_name, []).append(build.id)
    backend.build_metadata_history[project_name].append(build.record)
    _running[build.id] = build
    build.start()
    return build.record


def describe(backend: Any, ids: list[str]) -> tuple[list[dict], list[str]]:
    """The records of ``ids`` (copies, as they are now) and the ids not found."""
    import copy

    found = {build["id"]: build for history in backend.build_metadata_history.values() for build in history}
    return [copy.deepcopy(found[i]) for i in ids if i in found], [i for i in ids if i not in found]


def matches(filter_groups: list[list[dict]], event: dict) -> bool:
    """Whether a repository event passes a webhook's filter groups, as CodeBuild evaluates them.

    A group passes when every filter in it passes (``excludeMatchedPattern`` inverts one);
    the event passes when any group passes. EVENT lists event names; the *_REF filters are
    regular expressions on the full ref; ACTOR_ACCOUNT_ID on the actor.
    """
    head = event.get("head_ref") or event.get("ref") or ""
    values = {"EVENT": event.get("event", ""), "HEAD_REF": head, "BASE_REF": event.get("base_ref", ""),
              "ACTOR_ACCOUNT_ID": event.get("actor", "")}
    for group in filter_groups or []:
        passed = True
        for entry in group:
            kind, pattern = entry.get("type"), entry.get("pattern") or ""
            if kind == "EVENT":
                hit = values["EVENT"] in [name.strip() for name in pattern.split(",")]
            elif kind in values:
                hit = re.search(pattern, values[kind]) is not None
            else:
                hit = False   # FILE_PATH, COMMIT_MESSAGE and the rest are not evaluated: the group does not pass
            if entry.get("excludeMatchedPattern"):
                hit = not hit
            passed = passed and hit
        if passed:
            return True
    return False
