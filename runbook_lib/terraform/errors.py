"""Turn Terraform's common failures into messages that say what happened and what to do."""

from __future__ import annotations

import re

from ..render.roots import RootModule
from .binary import DEFAULT_PROVIDER_MIRROR
from .imports import Leftover, leftovers

_MODULE_FETCH = re.compile(r'Could not download module "([^"]+)"')
_GIT_URL = re.compile(r"error downloading\s+'(https://github\.com/[^'?]+)(?:\?ref=([0-9a-f]+))?'")


def _module_fetch(output: str, root: str) -> str | None:
    """Why a module could not be fetched (GitHub out of reach, or the module mirror), and what to do."""
    module = _MODULE_FETCH.search(output)
    if module is None:
        return None
    import os

    from .binary import GITHUB_PREFIX, MODULE_MIRROR_ENV

    flat = " ".join(output.split())   # Terraform wraps its messages at any word
    where = _GIT_URL.search(flat)
    url, commit = (where.group(1), where.group(2)) if where else ("its git source", None)
    pinned = f" at commit {commit}" if commit else ""
    mirror = os.environ.get(MODULE_MIRROR_ENV, "").strip()
    if not mirror:
        return (f"Terraform could not fetch the module {module.group(1)} of {root} from {url}{pinned}: this machine "
                f"cannot reach GitHub. Set {MODULE_MIRROR_ENV} to a folder of bare git repositories laid out as on "
                "GitHub (thoughtbot/terraform-eks-cicd.git, thoughtbot/terraform-codestar-setup.git) that holds "
                "the pinned commits (`runbook modules mirror DIR` builds one where github.com is reachable, or "
                "from another copy with --from), or run where github.com is reachable. Nothing was changed.")
    repository = url.removeprefix(GITHUB_PREFIX) if url.startswith(GITHUB_PREFIX) else url
    local = f"{mirror.rstrip('/')}/{repository}"
    if "reference is not a tree" in flat or "did not match any file" in flat:
        reason = f"{local} does not hold the pinned commit {commit}"
    elif "does not appear to be a git repository" in flat:
        reason = (f"{local} is not a git repository git can read (missing, or a bare repository without its "
                  "HEAD, objects/ or refs/ folder; empty folders are lost by some copies)")
    else:
        reason = f"git could not clone {local}"
    return (f"Terraform could not fetch the module {module.group(1)} of {root} from the module mirror "
            f"({MODULE_MIRROR_ENV}={mirror}): {reason}. Rebuild it with `runbook modules mirror DIR --from "
            f"{mirror}` and point {MODULE_MIRROR_ENV} at DIR, or unset {MODULE_MIRROR_ENV} "
            "where github.com is reachable. Nothing was changed.")


def _field(text: str, name: str) -> str:
    match = re.search(rf"^\s*│?\s*{name}:\s*(.+)$", text, flags=re.M)
    return match.group(1).strip() if match else "unknown"


def explain(output: str, root: str, workdir: str | None = None) -> str | None:
    """A clear message for a failure we recognise in Terraform's output, else None.

    ``workdir`` is the root's folder, when known, for commands the message gives.
    """
    if "Error acquiring the state lock" in output or "Error locking state" in output:
        lock_id = _field(output, "ID")
        return (
            f"The state of {root} is locked by {_field(output, 'Who')} since {_field(output, 'Created')} "
            f"(operation {_field(output, 'Operation')}, lock ID {lock_id}). Another run is using it: wait "
            f"for it to finish. If that run died, release the lock with "
            f"`runbook unlock {root} {lock_id}` (with the --app, --target and --out of this run) "
            f"and run again. Nothing was changed."
        )
    if re.search(r"No valid credential sources found|failed to refresh cached credentials|"
                 r"InvalidClientTokenId|ExpiredToken|security token included in the request is (invalid|expired)|"
                 r"NoCredentialProviders|retrieving caller identity from STS", output):
        return (
            f"AWS credentials for {root} are missing or expired. Sign in (for example `aws sso login "
            "--profile NAME` and `export AWS_PROFILE=NAME`) so the role in terraform_role_name can be "
            "assumed, then run again. Nothing was changed."
        )
    if re.search(r"Failed to query available provider packages|Failed to install provider|"
                 r"could not connect to registry\.terraform\.io|Failed to resolve provider packages|"
                 r"provider registry\.terraform\.io/hashicorp/aws was not found", output):
        return _provider_advice(root)
    fetch = _module_fetch(output, root)
    if fetch:
        return fetch
    if "Saved plan is stale" in output:
        return (
            f"The saved plan for {root} is stale: the state changed after the plan was made. "
            "Plan again and approve the new plan. Nothing was applied."
        )
    if re.search(r"Failed to (load|read) .*plan file|is not a valid plan file|zip: not a valid zip file", output):
        return f"The plan file for {root} is not a Terraform plan this root made. Plan again. Nothing was applied."
    found = leftovers(output)
    if found:
        return _already_there_advice(found, root, workdir)
    return None


def _provider_advice(root: str) -> str:
    here = DEFAULT_PROVIDER_MIRROR.is_dir()
    value = str(DEFAULT_PROVIDER_MIRROR) if here else "/path/to/mirror"
    return (
        f"Terraform could not install the AWS provider for {root}: this machine cannot reach the "
        "Terraform registry and no local copy was found. Set RUNBOOK_TF_PROVIDER_MIRROR to a "
        "provider filesystem mirror (a folder with registry.terraform.io/hashicorp/aws/<version>/<os_arch>/)"
        + (f"; this machine has one at {value}" if here else "")
        + f": in a shell, `export RUNBOOK_TF_PROVIDER_MIRROR={value}` before starting the runbook or JupyterLab "
        f"(`runbook lab` and the Makefile set it); in a notebook, run `%env RUNBOOK_TF_PROVIDER_MIRROR={value}` "
        "and run the cell again. Or run where the registry is reachable. Nothing was changed."
    )


def _already_there_advice(found: list[Leftover], root: str, workdir: str | None) -> str:
    folder = workdir or f"OUT/{RootModule(root, {}).path}"
    where = ("" if workdir else "OUT is this run's output folder (--out, or out_dir in a notebook); ")
    listed = "\n".join(f"  - {x.address}: {x.kind} {x.name} ({x.code})" for x in found)
    commands = "\n".join(f"       terraform -chdir={folder} import '{x.address}' '{x.name}'" for x in found)
    return (
        f"Terraform tried to create resources of {root} that already exist in AWS but are not in its state:\n"
        f"{listed}\n"
        "Most likely an earlier apply was stopped (killed, or its machine lost) after AWS created them and "
        "before Terraform recorded them in the state. Two ways forward:\n"
        "  1. Keep them: import each into the state, then apply again (the plan shows what still differs):\n"
        f"{commands}\n"
        f"     {where}run it with the same AWS "
        "credentials as this run. For most resources the import ID is the name shown; a few take an ARN "
        "(see \"Import\" on the resource's page in the AWS provider documentation).\n"
        "  2. Or delete each one by hand in AWS (Terraform never recorded it, so it will not delete it), "
        "then apply again."
    )
