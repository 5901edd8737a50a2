"""Turn Terraform's common failures into messages that say what happened and what to do."""

from __future__ import annotations

import re

from ..render.roots import RootModule

# AWS error codes for "what you are creating is already there" (IAM, CloudWatch Logs and
# CodeBuild, ECR, S3 in most regions, SSM, KMS aliases and others).
ALREADY_EXISTS = re.compile(r"\b(EntityAlreadyExists|ResourceAlreadyExistsException|RepositoryAlreadyExistsException|"
                            r"BucketAlreadyOwnedByYou|ParameterAlreadyExists|AlreadyExistsException)\b")


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
    leftovers = _already_there(output)
    if leftovers:
        return _already_there_advice(leftovers, root, workdir)
    return None


def _already_there(output: str) -> list[tuple[str, str, str, str]]:
    """(address, kind, id, error code) for every Terraform error that says a resource already exists.

    Reads the AWS provider's format, with or without the boxes Terraform draws around errors:
        Error: creating IAM Role (acme-worker-deploy): ... EntityAlreadyExists: Role with name ... already exists.
          with module.deploy_project.aws_iam_role.codebuild,
    A part it cannot find reads ADDRESS, ID or "resource".
    """
    found = []
    for block in re.split(r"(?m)^(?=[ │]*Error: )", output):
        code = ALREADY_EXISTS.search(block)
        if not code:
            continue
        created = re.search(r"Error: creating (.+?) \(([^()]+)\):", block)
        address = re.search(r"^[ │]*with (.+?),[ ]*$", block, flags=re.M)
        found.append((address.group(1) if address else "ADDRESS", created.group(1) if created else "resource",
                      created.group(2) if created else "ID", code.group(1)))
    return found


def _already_there_advice(leftovers: list[tuple[str, str, str, str]], root: str, workdir: str | None) -> str:
    folder = workdir or f"OUT/{RootModule(root, {}).path}"
    where = ("" if workdir else "OUT is this run's output folder (--out, or out_dir in a notebook); ")
    listed = "\n".join(f"  - {address}: {kind} {name} ({code})" for address, kind, name, code in leftovers)
    commands = "\n".join(f"       terraform -chdir={folder} import '{address}' '{name}'"
                         for address, _, name, _ in leftovers)
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
