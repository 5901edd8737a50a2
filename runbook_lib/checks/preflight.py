"""Preflight: before any apply, is everything the guide assumes in place?

Each function is one check (or one per account/cluster), read-only, returning
results; an API failure is reported as FAIL with what went wrong, never skipped.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..catalog import AWS_PROVIDER_VERSION
from ..errors import TerraformError
from ..terraform.binary import MIRROR_ENV
from . import links
from .base import AWS_ERRORS, Context, clusters_of, error_code, result, unreachable
from .result import CheckResult, Status
from .sessions import CredentialsError


def _accounts(ctx: Context) -> list[tuple[str, str]]:
    return [("operations", ctx.ops), *((n, a.id) for n, a in ctx.org.accounts.workloads.items())]


def check_identity(ctx: Context) -> list[CheckResult]:
    out = []
    for name, account in _accounts(ctx):
        check_id, resource = f"pre.identity.{name}", f"sts caller identity for {name} ({account})"
        try:
            found = ctx.client("sts", account).get_caller_identity()["Account"]
        except CredentialsError as exc:
            out.append(CheckResult(check_id, Status.FAIL, resource, account, str(exc),
                                   f"Make sure the role {ctx.org.terraform_role_name} exists in {account} and you may assume it.",
                                   links.CREDENTIALS))
            continue
        except AWS_ERRORS as exc:
            out.append(unreachable(check_id, resource, account, exc))
            continue
        out.append(result(check_id, found == account, resource, account, found,
                          f"The credentials reach account {found}, not {account}: check terraform_role_name and the "
                          "account ids in org.yaml.", links.CREDENTIALS))
    return out


def check_region(ctx: Context) -> list[CheckResult]:
    region = ctx.org.region
    check_id, resource = "pre.region-enabled", f"region {region} in operations ({ctx.ops})"
    try:
        regions = ctx.client("ec2").describe_regions(AllRegions=True)["Regions"]
    except (AWS_ERRORS + (CredentialsError,)) as exc:
        return [unreachable(check_id, resource, "enabled", exc)]
    status = next((r.get("OptInStatus", "opt-in-not-required") for r in regions if r["RegionName"] == region), "unknown")
    return [result(check_id, status in ("opt-in-not-required", "opted-in"), resource, "enabled", status,
                   f"Enable {region} for the account (Account settings, AWS Regions).", links.REGIONS)]


def check_terraform(ctx: Context) -> list[CheckResult]:
    from ..terraform.runner import Terraform

    try:
        with tempfile.TemporaryDirectory(prefix="runbook-preflight-") as scratch:   # this run's own, never shared
            version = Terraform(Path(scratch), plugin_cache=False).version()
        out = [CheckResult("pre.terraform", Status.PASS, "terraform CLI", ">= 1.10.0", version)]
    except TerraformError as exc:
        out = [CheckResult("pre.terraform", Status.FAIL, "terraform CLI", ">= 1.10.0", str(exc),
                           "Install Terraform 1.10 or newer.", "https://developer.hashicorp.com/terraform/install")]
    mirror = os.environ.get(MIRROR_ENV)
    wanted = f"hashicorp/aws {AWS_PROVIDER_VERSION}"   # the exact version every rendered root requires
    if mirror:
        found = sorted(p.name for p in Path(mirror).glob("registry.terraform.io/hashicorp/aws/*") if p.is_dir())
        out.append(result("pre.aws-provider", AWS_PROVIDER_VERSION in found, f"provider mirror {mirror}", wanted,
                          ", ".join(found) or "none",
                          f"Put {wanted} into the mirror, or unset {MIRROR_ENV} to use the registry."))
    else:
        out.append(CheckResult("pre.aws-provider", Status.WARN, "provider source", wanted,
                               "from the Terraform registry (needs internet at init)",
                               f"Offline machines: set {MIRROR_ENV} to a provider filesystem mirror."))
    return out


def check_module_sources(ctx: Context) -> list[CheckResult]:
    """Each pinned upstream commit: in the module mirror when one is set, else left to GitHub at init."""
    from .. import module_mirror
    from ..terraform.binary import MODULE_MIRROR_ENV, module_mirror as mirror_folder

    out = []
    try:
        mirror = mirror_folder()
    except TerraformError as exc:
        return [CheckResult("pre.module-mirror", Status.FAIL, "module mirror", "a folder of bare repositories",
                            str(exc), f"Build one with `runbook modules mirror DIR` and set {MODULE_MIRROR_ENV}.")]
    for pin in module_mirror.pinned(ctx.org):
        wanted = f"{pin.ref} = {pin.commit[:12]}"
        if mirror is None:
            out.append(CheckResult(f"pre.module-source.{pin.path.split('/')[-1].removesuffix('.git')}", Status.WARN,
                                   f"github.com/{pin.path}", wanted, "fetched from GitHub at init (needs internet)",
                                   f"Offline machines: build a mirror with `runbook modules mirror DIR` and set "
                                   f"{MODULE_MIRROR_ENV}."))
            continue
        repository = mirror / pin.path
        found = module_mirror.has_commit(repository, pin.commit)
        out.append(result(f"pre.module-source.{pin.path.split('/')[-1].removesuffix('.git')}", found,
                          f"module mirror: {pin.path}", wanted,
                          "present" if found else f"missing or unreadable in {repository}",
                          f"Rebuild the mirror: `runbook modules mirror DIR --from {mirror}` (or from GitHub), "
                          f"then point {MODULE_MIRROR_ENV} at DIR."))
    return out


def check_token_parameter(ctx: Context) -> list[CheckResult]:
    """The GitHub token's SSM parameter exists: metadata only, its value is never read."""
    name = ctx.org.github_token_parameter
    check_id, resource = "pre.github-token-parameter", f"ssm parameter {name} in operations ({ctx.ops})"
    try:
        found = ctx.client("ssm").describe_parameters(
            ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])["Parameters"]
    except (AWS_ERRORS + (CredentialsError,)) as exc:
        return [unreachable(check_id, resource, "a SecureString parameter", exc)]
    if not found:
        return [result(check_id, False, resource, "a SecureString parameter", "missing",
                       f"Create it: aws ssm put-parameter --name {name} --type SecureString --value <token> "
                       "(a GitHub token with repo and admin:repo_hook scopes).", links.SSM_PARAMETERS)]
    kind = found[0].get("Type", "?")
    return [result(check_id, kind == "SecureString", resource, "a SecureString parameter", kind,
                   "Store the token as a SecureString.", links.SSM_PARAMETERS, warn=True)]


def check_state_bucket(ctx: Context) -> list[CheckResult]:
    bucket = ctx.org.state_bucket
    check_id, resource = "pre.state-bucket", f"s3 bucket {bucket} in operations ({ctx.ops})"
    try:
        ctx.client("s3").head_bucket(Bucket=bucket)
        return [result(check_id, True, resource, "exists", "exists", "")]
    except (AWS_ERRORS + (CredentialsError,)) as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return [result(check_id, False, resource, "exists", "missing",
                           f"Create the Terraform state bucket {bucket} (versioned, encrypted) before the first apply.",
                           links.S3_VERSIONING)]
        return [unreachable(check_id, resource, "exists", exc)]


def check_clusters(ctx: Context) -> list[CheckResult]:
    targets = clusters_of(ctx)
    out = []
    for t in targets:
        check_id = f"pre.cluster.{t.account_name}.{t.cluster}"
        resource = f"eks cluster {t.cluster} in {t.account_name} ({t.account_id}) {t.region}"
        try:
            status = ctx.client("eks", t.account_id, t.region).describe_cluster(name=t.cluster)["cluster"]["status"]
        except (AWS_ERRORS + (CredentialsError,)) as exc:
            if error_code(exc) == "ResourceNotFoundException":
                out.append(result(check_id, False, resource, "ACTIVE", "missing",
                                  f"Create the cluster, or fix the cluster name/region under accounts.workloads.{t.account_name}.clusters.",
                                  links.EKS_CLUSTERS))
            else:
                out.append(unreachable(check_id, resource, "ACTIVE", exc))
            continue
        out.append(result(check_id, status == "ACTIVE", resource, "ACTIVE", status,
                          "Wait for the cluster to become ACTIVE.", links.EKS_CLUSTERS, warn=status == "CREATING"))
    return out


PREFLIGHT = (check_identity, check_region, check_terraform, check_module_sources, check_token_parameter,
             check_state_bucket, check_clusters)


def preflight(ctx: Context) -> list[CheckResult]:
    from .postflight import guarded

    return [r for check in PREFLIGHT for r in guarded(check, ctx)]
