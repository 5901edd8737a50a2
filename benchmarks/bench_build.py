"""What a sandbox build costs beyond its own commands, side by side in one run.

1. ``direct``: the buildspec's commands run in one bash on this machine, nothing else.
2. ``build``: the same commands as a CodeBuild build in the sandbox (StartBuild, then BatchGetBuilds
   until it is complete): checkout from the sandbox's GitHub, the service role's credentials from
   the emulated STS, bubblewrap, one bash fed command by command, CloudWatch Logs.

Each is run ROUNDS times; the ratio of the medians is the build's overhead factor, and the difference
is its overhead in seconds. The commands are the image buildspec's own shape without docker (a few
variables and one AWS CLI call), so the AWS CLI's start-up is in both.

Run:  .venv/bin/python benchmarks/bench_build.py   (needs bwrap; no Terraform)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runbook_lib.sandbox import github, server  # noqa: E402
from runbook_lib.sandbox.clients import SandboxSessions  # noqa: E402

ROUNDS = 5
ACCOUNT = "111111111111"
COMMANDS = ['REGISTRY="${AWS_ACCOUNT_ID}.dkr.ecr.${AWS_REGION}.amazonaws.com"', 'IMAGE_TAG="$CODEBUILD_RESOLVED_SOURCE_VERSION"',
            "aws sts get-caller-identity --query Account --output text"]
BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n" + "".join(f"      - {json.dumps(c)}\n" for c in COMMANDS)


def _direct(url: str) -> float:
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox",
           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCOUNT_ID": ACCOUNT,
           "CODEBUILD_RESOLVED_SOURCE_VERSION": "0" * 40, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    started = time.perf_counter()
    subprocess.run(["bash", "-c", "\n".join(COMMANDS)], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _build(url: str, directory: Path, number: int) -> float:
    event = github.open_pull_request(directory, "acme-co/bench", f"bench-{number}", {"buildspec.yml": BUILDSPEC}, "bench")
    codebuild = SandboxSessions(url, "us-east-1", "terraform-execution").client("codebuild", ACCOUNT)
    started = time.perf_counter()
    build_id = codebuild.start_build(projectName="bench", sourceVersion=f"pr/{event.number}")["build"]["id"]
    while True:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildComplete"]:
            break
        time.sleep(0.05)
    if build["buildStatus"] != "SUCCEEDED":
        raise SystemExit(f"the benchmark's build {build_id} ended {build['buildStatus']}: {build['phases']}")
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "sandbox"
        running = server.start(directory=directory)
        try:
            sessions = SandboxSessions(running.url, "us-east-1", "terraform-execution")
            role = sessions.client("iam", ACCOUNT).create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "codebuild.amazonaws.com"}}]}))["Role"]
            sessions.client("codebuild", ACCOUNT).create_project(
                name="bench", source={"type": "GITHUB", "location": "https://github.com/acme-co/bench.git"},
                artifacts={"type": "NO_ARTIFACTS"}, serviceRole=role["Arn"],
                environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:5.0",
                             "computeType": "BUILD_GENERAL1_SMALL",
                             "environmentVariables": [{"name": "AWS_ACCOUNT_ID", "value": ACCOUNT}]})
            github.create(directory, "acme-co/bench", {"README": "bench\n"})
            direct = [_direct(running.url) for _ in range(ROUNDS)]
            build = [_build(running.url, directory, n) for n in range(ROUNDS)]
        finally:
            server.stop(directory)
    d, b = statistics.median(direct), statistics.median(build)
    print(f"commands run directly: median {d:.2f} s over {ROUNDS}")
    print(f"the same as a sandbox build: median {b:.2f} s over {ROUNDS}")
    print(f"build / direct: {b / d:.2f}x; overhead {b - d:.2f} s per build")


if __name__ == "__main__":
    urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))
    main()
