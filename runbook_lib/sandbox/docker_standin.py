"""``docker`` inside a sandbox build: a stand-in that builds nothing, labelled as one on every line it prints.

No Docker engine runs here, so a sandbox build gets this program as ``docker``:

- ``login --username AWS --password-stdin REGISTRY`` checks the password against the
  emulated ECR's authorization token for that registry, as the registry would;
- ``build [--file F] --tag T CONTEXT`` checks the Dockerfile exists in its context and
  records a digest of the context's files under the tag;
- ``push REGISTRY/REPOSITORY:TAG`` needs a login to that registry and a built tag, then
  puts an image manifest into the emulated ECR (PutImage), so ECR's tag rules apply.

It talks to the emulator through the build's own credentials and endpoint (the
environment the build runs in), and keeps its state in the build's home folder.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
from pathlib import Path

LABEL = "[sandbox stand-in: docker]"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
REGISTRY = re.compile(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com")


def _say(text: str) -> None:
    print(f"{LABEL} {text}", flush=True)


def _fail(text: str) -> int:
    print(f"{LABEL} error: {text}", file=sys.stderr, flush=True)
    return 1


def _state() -> Path:
    return Path(os.environ.get("HOME", ".")) / ".docker-standin.json"


def _load() -> dict:
    file = _state()
    return json.loads(file.read_text()) if file.exists() else {"logins": [], "images": {}}


def _save(state: dict) -> None:
    _state().write_text(json.dumps(state, indent=1))


def _ecr(region: str):
    import boto3
    from botocore.config import Config

    return boto3.client("ecr", region_name=region, config=Config(proxies={}, retries={"max_attempts": 3}))


def login(args: argparse.Namespace) -> int:
    match = REGISTRY.fullmatch(args.registry or "")
    if not match:
        return _fail(f"{args.registry!r} is not an ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com)")
    password = sys.stdin.read().strip() if args.password_stdin else (args.password or "")
    token = _ecr(match.group(2)).get_authorization_token(registryIds=[match.group(1)])["authorizationData"][0]
    expected = base64.b64decode(token["authorizationToken"]).decode().partition(":")[2]
    if args.username != "AWS" or password != expected:
        return _fail(f"login to {args.registry} denied: the user must be AWS and the password "
                     "the ECR authorization token (aws ecr get-login-password)")
    state = _load()
    state["logins"] = sorted(set(state["logins"]) | {args.registry})
    _save(state)
    _say(f"Login Succeeded ({args.registry}; checked against the emulated ECR's token)")
    return 0


def _context_digest(context: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file() and ".git" not in p.relative_to(context).parts):
        digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def build(args: argparse.Namespace) -> int:
    context = Path(args.context)
    dockerfile = Path(args.file) if args.file else context / "Dockerfile"
    if not dockerfile.is_absolute() and args.file:
        dockerfile = Path.cwd() / dockerfile
    if not context.is_dir():
        return _fail(f"unable to prepare context: path {args.context!r} not found")
    if not dockerfile.is_file():
        return _fail(f"failed to read dockerfile: open {dockerfile}: no such file or directory")
    if not args.tag:
        return _fail("build needs --tag here (the stand-in records images by tag)")
    digest = _context_digest(context)
    state = _load()
    for tag in args.tag:
        state["images"][tag] = digest
    _save(state)
    _say(f"nothing built: the context ({dockerfile.name} found) has digest {digest[:19]}..., tagged {', '.join(args.tag)}")
    return 0


def push(args: argparse.Namespace) -> int:
    image = args.image
    registry, _, rest = image.partition("/")
    repository, _, tag = rest.rpartition(":")
    match = REGISTRY.fullmatch(registry)
    if not match or not repository or not tag:
        return _fail(f"{image!r}: expected ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG")
    state = _load()
    if registry not in state["logins"]:
        return _fail(f"no basic auth credentials for {registry}: run docker login first")
    if image not in state["images"]:
        return _fail(f"An image does not exist locally with the tag: {image}")
    config = state["images"][image]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                      "size": 0, "digest": config},
                           "layers": []}, sort_keys=True)
    from botocore.exceptions import ClientError

    try:
        pushed = _ecr(match.group(2)).put_image(registryId=match.group(1), repositoryName=repository,
                                                imageManifest=manifest, imageTag=tag, imageManifestMediaType=MANIFEST_TYPE,
                                                imageDigest="sha256:" + hashlib.sha256(manifest.encode()).hexdigest())["image"]
    except ClientError as exc:
        return _fail(f"push of {image} refused by ECR: {exc.response['Error'].get('Code')}: "
                     f"{exc.response['Error'].get('Message')}")
    _say(f"pushed {image} (manifest of no layers, digest {pushed['imageId'].get('imageDigest', '?')[:19]}...)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="docker", description=f"{LABEL} login, build and push only")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("login")
    p.add_argument("--username", "-u")
    p.add_argument("--password", "-p")
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("registry")
    p = commands.add_parser("build")
    p.add_argument("--file", "-f")
    p.add_argument("--tag", "-t", action="append")
    p.add_argument("context")
    p = commands.add_parser("push")
    p.add_argument("image")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _say(f"options not emulated, ignored: {' '.join(unknown)}")
    return {"login": login, "build": build, "push": push}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
