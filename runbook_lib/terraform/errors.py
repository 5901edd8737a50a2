"""Turn Terraform's common failures into messages that say what happened and what to do."""

from __future__ import annotations

import re


def _field(text: str, name: str) -> str:
    match = re.search(rf"^\s*│?\s*{name}:\s*(.+)$", text, flags=re.M)
    return match.group(1).strip() if match else "unknown"


def explain(output: str, root: str) -> str | None:
    """A clear message for a failure we recognise in Terraform's output, else None."""
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
        return (
            f"Terraform could not install the AWS provider for {root}: this machine cannot reach the "
            "Terraform registry and no local copy was found. Point RUNBOOK_TF_PROVIDER_MIRROR at a "
            "provider filesystem mirror (a folder with registry.terraform.io/hashicorp/aws/<version>/<os_arch>/), "
            "or run where the registry is reachable."
        )
    if "Saved plan is stale" in output:
        return (
            f"The saved plan for {root} is stale: the state changed after the plan was made. "
            "Plan again and approve the new plan. Nothing was applied."
        )
    if re.search(r"Failed to (load|read) .*plan file|is not a valid plan file|zip: not a valid zip file", output):
        return f"The plan file for {root} is not a Terraform plan this root made. Plan again. Nothing was applied."
    return None
