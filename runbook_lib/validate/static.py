"""Static checks of a rendered tree: formatting, module calls, cross-root wiring, buildspecs.

Each check function returns findings and never raises for what it finds; the
caller decides what a failure means (``runbook validate`` exits 1).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import yaml

from .. import catalog
from ..errors import TerraformError
from ..parameters.models import App, Org
from ..render import buildspecs
from ..render.files import split_header
from ..render.roots import DEPLOY_PROJECT_MODULE, IMAGE_PROJECT_MODULE, MANIFESTS_PROJECT_MODULE
from ..naming import DEPLOY_ROLE_SUFFIX, codebuild_name, iam_arn
from ..resolved import connection_parameter, resolve
from ..terraform.binary import find_terraform, terraform_env
from .findings import Finding, Status
from .parse import MODULE_REF, ParsedRoot

META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}


def check_fmt(root: Path, label: str) -> list[Finding]:
    try:
        binary = find_terraform()
    except TerraformError as exc:
        return [Finding("terraform fmt", label, Status.FAIL, str(exc))]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [binary, "fmt", "-check", "-list=true", "-no-color", str(root)],
            capture_output=True, text=True, env=terraform_env(Path(tmp), plugin_cache=False),
        )
    if proc.returncode == 0:
        return [Finding("terraform fmt", label, Status.PASS)]
    files = ", ".join(Path(line).name for line in proc.stdout.split()) or proc.stderr.strip()
    return [Finding("terraform fmt", label, Status.FAIL, f"not in canonical format: {files}")]


def _interface_for(source: str, org: Org):
    found = catalog.interface_for_source(source)
    if found:
        return found
    module = source.rstrip("/").rsplit("/", 1)[-1]
    repository = catalog.MODULE_REPOSITORY.get(module)
    if repository and not source.startswith(("git::", "github.com", "http")):
        ref = org.module_versions.codestar_setup if repository == catalog.CODESTAR_SETUP else org.module_versions.eks_cicd
        return catalog.interface(repository, ref, module)
    return None


def check_modules(parsed: ParsedRoot, label: str, org: Org) -> list[Finding]:
    findings: list[Finding] = []
    interfaces = {}
    for name, attrs in parsed.modules.items():
        subject = f"{label}: module.{name}"
        source = attrs.get("source", "")
        iface = _interface_for(source, org)
        if iface is None:
            findings.append(Finding("module source", subject, Status.FAIL, f"source {source!r} is not a pinned module in the catalog"))
            continue
        interfaces[name] = iface
        if source.startswith("git::") and "?ref=" in source:
            ref = source.rsplit("?ref=", 1)[1]
            if len(ref) != 40:
                findings.append(Finding("module source", subject, Status.FAIL, f"ref {ref!r} is not a full commit SHA"))
        given = set(attrs) - META_ARGUMENTS
        missing = sorted(iface.required_inputs - given)
        unknown = sorted(given - set(iface.variables))
        problems = []
        if missing:
            problems.append(f"missing required inputs: {', '.join(missing)}")
        if unknown:
            problems.append(f"inputs the module does not declare: {', '.join(unknown)}")
        findings.append(Finding(
            "module inputs", subject, Status.FAIL if problems else Status.PASS,
            "; ".join(problems) or f"{len(given)} inputs match {iface.key}",
        ))
    bad_refs = []
    count = 0
    for file, text in parsed.strings:
        for module, output in MODULE_REF.findall(text):
            count += 1
            if module not in parsed.modules:
                bad_refs.append(f"{file}: module.{module}.{output} (no such module block)")
            elif module in interfaces and output not in interfaces[module].outputs:
                bad_refs.append(f"{file}: module.{module}.{output} (outputs: {', '.join(interfaces[module].outputs) or 'none'})")
    findings.append(Finding(
        "module outputs", label, Status.FAIL if bad_refs else Status.PASS,
        "; ".join(bad_refs) or f"{count} output references resolve",
    ))
    return findings


def _expect(findings: list[Finding], subject: str, what: str, found, expected) -> None:
    if found == expected:
        findings.append(Finding("cross-root", subject, Status.PASS, f"{what} = {expected!r}"))
    else:
        findings.append(Finding("cross-root", subject, Status.FAIL, f"{what} is {found!r}, expected {expected!r}"))


def _deploy_roles(common: ParsedRoot) -> dict[str, str]:
    """cluster name -> ARN of the deploy role the common root creates for it."""
    roles = {}
    for attrs in common.modules.values():
        if "cluster_name" not in attrs:
            continue
        provider = str(attrs.get("providers", {}).get("aws", "${aws}")).strip("${}")
        config = common.providers.get(provider, {})
        account = (config.get("allowed_account_ids") or ["?"])[0]
        roles[attrs["cluster_name"]] = iam_arn(str(config.get("region", "")), account,
                                               f"role/{attrs['cluster_name']}{DEPLOY_ROLE_SUFFIX}")
    return roles


def check_consistency(roots: dict[str, ParsedRoot], org: Org, app: App | None) -> list[Finding]:
    """The names CI/CD roots use are the ones the common root creates (and each other's)."""
    findings: list[Finding] = []
    common = roots["cicd-common"].modules
    bucket = common.get("artifact_bucket", {})
    bucket_name = "-".join([*bucket.get("namespace", []), bucket.get("name", "")])
    _expect(findings, "cicd-common: module.artifact_bucket", "bucket name", bucket_name, org.artifact_bucket)
    _expect(findings, "cicd-common: module.codebuild_credential", "token_parameter",
            common.get("codebuild_credential", {}).get("token_parameter"), org.github_token_parameter)
    conn = common.get("codestar_connection", {})
    created_param = f"/codestar_connection/{conn.get('provider_type')}/{conn.get('name')}"
    _expect(findings, "cicd-common: module.codestar_connection", "connection parameter",
            created_param, connection_parameter(org.codestar_connection_name))
    if app is None:
        return findings
    resolved = resolve(org, app)
    deploy_roles = _deploy_roles(roots["cicd-common"])
    ci = roots[f"ci/{app.name}"].modules
    cd = roots[f"cd/{app.name}"].modules
    for label, modules in ((f"ci/{app.name}", ci), (f"cd/{app.name}", cd)):
        for name, attrs in modules.items():
            if "artifacts_bucket" in attrs:
                _expect(findings, f"{label}: module.{name}", "artifacts_bucket", attrs["artifacts_bucket"], bucket_name)
            if "codestar_connection" in attrs:
                _expect(findings, f"{label}: module.{name}", "codestar_connection", attrs["codestar_connection"], created_param)
    image = ci.get(IMAGE_PROJECT_MODULE, {})
    manifests = ci.get(MANIFESTS_PROJECT_MODULE, {})
    deploy = cd.get(DEPLOY_PROJECT_MODULE, {})
    image_name = codebuild_name(image.get("namespace", []), image.get("name", ""))
    manifests_name = codebuild_name(manifests.get("namespace", []), manifests.get("name", ""))
    deploy_name = codebuild_name(deploy.get("namespace", []), deploy.get("name", ""))
    for name, attrs in cd.items():
        if "ecr_project" in attrs:
            _expect(findings, f"cd/{app.name}: module.{name}", "ecr_project", attrs["ecr_project"], image_name)
            _expect(findings, f"cd/{app.name}: module.{name}", "manifests_project", attrs["manifests_project"], manifests_name)
            _expect(findings, f"cd/{app.name}: module.{name}", "deploy_project", attrs["deploy_project"], deploy_name)
            for action, deployment in attrs.get("deployments", {}).items():
                _expect(findings, f"cd/{app.name}: module.{name}", f"deployments.{action}.role_arn",
                        deployment.get("role_arn"), deploy_roles.get(deployment.get("cluster_name")))
    _expect(findings, f"ci/{app.name}: module.{IMAGE_PROJECT_MODULE}", "buildspec", image.get("buildspec"), buildspecs.IMAGE_BUILDSPEC_PATH)
    _expect(findings, f"ci/{app.name}: module.{MANIFESTS_PROJECT_MODULE}", "buildspec", manifests.get("buildspec"), buildspecs.MANIFESTS_BUILDSPEC_PATH)
    _expect(findings, f"cd/{app.name}: module.{DEPLOY_PROJECT_MODULE}", "cluster_names",
            sorted(deploy.get("cluster_names", [])), resolved.cluster_names)
    return findings


# jsonschema checks string formats with rfc3987-syntax when that package is installed (JupyterLab
# brings it), which compiles 38 grammars when jsonschema is imported: about 1.7 CPU-s in every
# kernel that validates. The buildspec schema checks no formats, so it is kept out of that import.
UNUSED_FORMAT_PACKAGE = "rfc3987_syntax"


def _schema_validator():
    """jsonschema's Draft 2020-12 validator class, imported without the format package above."""
    if "jsonschema" not in sys.modules and UNUSED_FORMAT_PACKAGE not in sys.modules:
        sys.modules[UNUSED_FORMAT_PACKAGE] = None   # read by the import below as "not installed"
        try:
            import jsonschema
        finally:
            del sys.modules[UNUSED_FORMAT_PACKAGE]
    import jsonschema

    return jsonschema.Draft202012Validator


def _buildspec_schema() -> dict:
    return json.loads(resources.files("runbook_lib").joinpath("data/buildspec-0.2.schema.json").read_text())


def check_buildspec(path: Path, label: str) -> list[Finding]:
    try:
        _, body = split_header(path.read_text(encoding="utf-8"))
        spec = yaml.safe_load(body)
    except (OSError, yaml.YAMLError) as exc:
        return [Finding("buildspec schema", label, Status.FAIL, f"cannot be read as YAML: {exc}")]
    validator = _schema_validator()(_buildspec_schema())
    errors = sorted(validator.iter_errors(spec), key=lambda e: list(e.absolute_path))
    if not errors:
        return [Finding("buildspec schema", label, Status.PASS, "valid buildspec 0.2")]
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in errors[:5]
    )
    return [Finding("buildspec schema", label, Status.FAIL, detail)]
