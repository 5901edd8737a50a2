"""Each lab's fault, put straight into the sandbox, and the probe that tells whether it is still there.

An injector takes the lab's context and returns its details (JSON data kept with the
open lab: what it changed and what it was before). A probe reads the sandbox again and
returns a sentence when the fault is still there, or None once it is gone. Both speak
to the sandbox only, with the same clients as the checks. Wrong fixes are the tempting
destructive shortcuts the grader must refuse (the tests use them).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable

from ..naming import iam_arn
from ..render.files import write_text_atomically
from ..render.roots import IMAGE_PROJECT_MODULE
from ..resolved import connection_parameter
from .context import LabContext, LabError

Details = dict
OTHER_ACCOUNT = "999999999999"       # an account the organization does not have
OTHER_BRANCH = "develop"


# -- reading what the suite applied ------------------------------------------------------
def _connection_status(ctx: LabContext) -> str:
    arn = ctx.client("ssm").get_parameter(Name=connection_parameter(ctx.org.codestar_connection_name))["Parameter"]["Value"]
    return ctx.client("codestar-connections").get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"]


def _token_exists(ctx: LabContext) -> bool:
    found = ctx.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [ctx.org.github_token_parameter]}])
    return bool(found["Parameters"])


def _github_credentials(ctx: LabContext) -> list[str]:
    infos = ctx.client("codebuild").list_source_credentials()["sourceCredentialsInfos"]
    return [i["arn"] for i in infos if i["serverType"] == "GITHUB"]


def _webhook(ctx: LabContext, project: str) -> dict:
    [found] = ctx.client("codebuild").batch_get_projects(names=[project])["projects"]
    return found.get("webhook") or {}


def _target(ctx: LabContext, which: int):
    return ctx.resolved.deploy_targets[which]


def _trust(ctx: LabContext, details: Details) -> dict:
    role = ctx.client("iam", details["account_id"]).get_role(RoleName=details["role"])["Role"]
    document = role["AssumeRolePolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def _repository_policy(ctx: LabContext) -> dict:
    return json.loads(ctx.client("ecr").get_repository_policy(repositoryName=ctx.app.ecr_repository)["policyText"])


def _pipeline(ctx: LabContext, name: str) -> dict:
    return ctx.client("codepipeline").get_pipeline(name=name)["pipeline"]


def _source_branch(ctx: LabContext, details: Details) -> str | None:
    for stage in _pipeline(ctx, details["pipeline"])["stages"]:
        for action in stage["actions"]:
            if action["configuration"].get("FullRepositoryId") == ctx.app.source_repository and stage["name"] == "Source":
                return action["configuration"].get("BranchName")
    return None


def _state(ctx: LabContext, key: str) -> dict:
    body = ctx.client("s3").get_object(Bucket=ctx.org.state_bucket, Key=key)["Body"].read()
    return json.loads(body)


def _address(resource: dict) -> str:
    return ".".join(p for p in (resource.get("module", ""), f"{resource['type']}.{resource['name']}") if p)


def _lock_held(ctx: LabContext, key: str) -> bool:
    s3 = ctx.client("s3")
    try:
        s3.head_object(Bucket=ctx.org.state_bucket, Key=key)
    except s3.exceptions.ClientError:
        return False
    return True


def _rendered(ctx: LabContext, rel: str) -> str:
    from ..render import render_files
    from ..targets import make_target

    return render_files(ctx.org, ctx.app, make_target("sandbox", endpoint=ctx.endpoint))[rel]


def _principals(statement: dict) -> list[str]:
    value = statement.get("Principal", {}).get("AWS", []) if isinstance(statement.get("Principal"), dict) else []
    return [value] if isinstance(value, str) else list(value)


def _with_principals(statement: dict, principals: list[str]) -> dict:
    return {**statement, "Principal": {**statement["Principal"], "AWS": principals[0] if len(principals) == 1 else principals}}


def _statements(document: dict) -> list[dict]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


# -- the faults ---------------------------------------------------------------------------
def connection_pending(ctx: LabContext) -> Details:
    from ..sandbox.console import revoke_handshake

    revoke_handshake(ctx.ops, ctx.org.region, ctx.org.codestar_connection_name, endpoint=ctx.endpoint)
    return {}


def token_parameter_missing(ctx: LabContext) -> Details:
    ctx.client("ssm").delete_parameter(Name=ctx.org.github_token_parameter)
    return {}


def source_credential_deleted(ctx: LabContext) -> Details:
    arns = _github_credentials(ctx)
    for arn in arns:
        ctx.client("codebuild").delete_source_credentials(arn=arn)
    return {"deleted": arns}


def webhook_deleted(ctx: LabContext) -> Details:
    project = ctx.resolved.image_project_name
    ctx.client("codebuild").delete_webhook(projectName=project)
    return {"project": project}


def _change_trust(ctx: LabContext, which: int, change: Callable[[dict, str], dict]) -> Details:
    target = _target(ctx, which)
    details = {"cluster": target.cluster, "account": target.account_name, "account_id": target.account_id,
               "role": target.role_name}
    original = _trust(ctx, details)
    changed = {**original, "Statement": [change(s, target.cluster) for s in _statements(original)]}
    ctx.client("iam", target.account_id).update_assume_role_policy(RoleName=target.role_name,
                                                                     PolicyDocument=json.dumps(changed))
    return {**details, "original": original}


def trust_wrong_account(ctx: LabContext) -> Details:
    ops_root = iam_arn(ctx.org.region, ctx.ops, "root")

    def elsewhere(statement: dict, _cluster: str) -> dict:
        principals = [iam_arn(ctx.org.region, OTHER_ACCOUNT, "root") if p in (ops_root, ctx.ops) else p for p in _principals(statement)]
        return _with_principals(statement, principals) if principals else statement

    return _change_trust(ctx, 0, elsewhere)


def trust_without_condition(ctx: LabContext) -> Details:
    return _change_trust(ctx, -1, lambda statement, _cluster: {k: v for k, v in statement.items() if k != "Condition"})


def ecr_pull_missing(ctx: LabContext) -> Details:
    target = _target(ctx, -1)
    dropped = iam_arn(ctx.org.region, target.account_id, "root")
    original = _repository_policy(ctx)
    statements = []
    for statement in _statements(original):
        principals = _principals(statement)
        if dropped in principals:
            kept = [p for p in principals if p != dropped]
            if not kept:
                continue
            statement = _with_principals(statement, kept)
        statements.append(statement)
    ctx.client("ecr").set_repository_policy(repositoryName=ctx.app.ecr_repository,
                                            policyText=json.dumps({**original, "Statement": statements}))
    return {"cluster": target.cluster, "account": target.account_name, "original": original}


def _first_cluster(ctx: LabContext):
    """The deploy target of the first stage's first deployment: the cluster the labs' texts name."""
    cluster = ctx.resolved.stages[0].deployments[0].cluster
    return next(t for t in ctx.resolved.deploy_targets if t.cluster == cluster)


def _has_access_entry(ctx: LabContext, details: Details) -> bool:
    eks = ctx.client("eks", details["account_id"], details["region"])
    return details["principal"] in eks.list_access_entries(clusterName=details["cluster"])["accessEntries"]


def cluster_access_removed(ctx: LabContext) -> Details:
    target = _first_cluster(ctx)
    if target.access != "access_entry":
        raise LabError(f"this lab needs deploy_access: access_entry for {target.cluster} in {ctx.where.org_file} "
                       f"(it is {target.access}); nothing was changed")
    ctx.client("eks", target.account_id, target.region).delete_access_entry(clusterName=target.cluster,
                                                                            principalArn=target.role_arn)
    return {"cluster": target.cluster, "account": target.account_name, "account_id": target.account_id,
            "region": target.region, "principal": target.role_arn}


def pipeline_wrong_branch(ctx: LabContext) -> Details:
    stage = ctx.resolved.stages[0]
    pipeline = _pipeline(ctx, stage.pipeline_name)
    for action in next(s for s in pipeline["stages"] if s["name"] == "Source")["actions"]:
        if action["configuration"].get("FullRepositoryId") == ctx.app.source_repository:
            action["configuration"]["BranchName"] = OTHER_BRANCH if stage.branch != OTHER_BRANCH else "main"
    ctx.client("codepipeline").update_pipeline(pipeline=pipeline)
    return {"stage": stage.name, "pipeline": stage.pipeline_name, "original": stage.branch}


def state_lock(ctx: LabContext) -> Details:
    root = f"ci/{ctx.app.name}"
    key = f"{root}/terraform.tfstate"
    lock_id = str(uuid.uuid4())
    created = (datetime.now(timezone.utc) - timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lock = {"ID": lock_id, "Operation": "OperationTypeApply", "Info": "", "Who": "runner@build-host-7",
            "Version": "1.11.4", "Created": created, "Path": f"{ctx.org.state_bucket}/{key}"}
    ctx.client("s3").put_object(Bucket=ctx.org.state_bucket, Key=key + ".tflock", Body=json.dumps(lock).encode())
    return {"root": root, "lock_key": key + ".tflock", "lock_id": lock_id}


def outside_state(ctx: LabContext) -> Details:
    """As an apply killed right after AWS created a role: the role exists, the state does not know it.

    What Terraform would have created next (the role's inline policy and attachments) was never
    made, so those go from AWS and from the state too; the role itself stays in AWS.
    """
    root = f"ci/{ctx.app.name}"
    key = f"{root}/terraform.tfstate"
    state = _state(ctx, key)
    module = f"module.{IMAGE_PROJECT_MODULE}"
    roles = [r for r in state["resources"] if r["type"] == "aws_iam_role" and r.get("mode") == "managed"
             and r.get("module", "").startswith(module)]
    if not roles:
        raise LabError(f"the state of {root} holds no IAM role of {module}: is the suite applied? Nothing was changed.")
    role = roles[0]
    name = role["instances"][0]["attributes"]["name"]
    after = [r for r in state["resources"] if r.get("module") == role.get("module") and r.get("mode") == "managed"
             and r["type"] in ("aws_iam_role_policy", "aws_iam_role_policy_attachment")]
    iam = ctx.client("iam")
    for resource in after:
        for instance in resource["instances"]:
            attributes = instance["attributes"]
            if resource["type"] == "aws_iam_role_policy":
                iam.delete_role_policy(RoleName=name, PolicyName=attributes["name"])
            else:
                iam.detach_role_policy(RoleName=name, PolicyArn=attributes["policy_arn"])
    state["resources"] = [r for r in state["resources"] if r is not role and all(r is not a for a in after)]
    state["serial"] += 1
    ctx.client("s3").put_object(Bucket=ctx.org.state_bucket, Key=key, Body=json.dumps(state, indent=2).encode())
    return {"root": root, "state_key": key, "address": _address(role), "role": name}


def hand_edited(ctx: LabContext) -> Details:
    rel = f"infra/ci/{ctx.app.name}/main.tf"
    path = ctx.out / rel
    if not path.is_file():
        raise LabError(f"{path} does not exist: labs need the --out folder the suite was applied with; "
                       "nothing was changed.")
    write_text_atomically(path, path.read_text() + '\nlocals {\n  quick_fix = "build timeout raised by hand"\n}\n')
    return {"edited": rel}


INJECTORS: dict[str, Callable[[LabContext], Details]] = {f.__name__: f for f in (
    connection_pending, token_parameter_missing, source_credential_deleted, webhook_deleted, trust_wrong_account,
    trust_without_condition, ecr_pull_missing, cluster_access_removed, pipeline_wrong_branch, state_lock, outside_state,
    hand_edited)}


# -- is it still there? ----------------------------------------------------------------
# True while the fault is there. The grader says no more than "the symptom is still there".
PROBES: dict[str, Callable[[LabContext, Details], bool]] = {
    "connection_pending": lambda ctx, d: _connection_status(ctx) != "AVAILABLE",
    "token_parameter_missing": lambda ctx, d: not _token_exists(ctx),
    "source_credential_deleted": lambda ctx, d: not _github_credentials(ctx),
    "webhook_deleted": lambda ctx, d: not _webhook(ctx, d["project"]),
    "trust_wrong_account": lambda ctx, d: _trust(ctx, d) != d["original"],
    "trust_without_condition": lambda ctx, d: _trust(ctx, d) != d["original"],
    "ecr_pull_missing": lambda ctx, d: _repository_policy(ctx) != d["original"],
    "cluster_access_removed": lambda ctx, d: not _has_access_entry(ctx, d),
    "pipeline_wrong_branch": lambda ctx, d: _source_branch(ctx, d) != d["original"],
    "state_lock": lambda ctx, d: _lock_held(ctx, d["lock_key"]),
    "outside_state": lambda ctx, d: d["address"] not in {_address(r) for r in _state(ctx, d["state_key"])["resources"]},
    "hand_edited": lambda ctx, d: (not (ctx.out / d["edited"]).is_file()
                                   or (ctx.out / d["edited"]).read_text() != _rendered(ctx, d["edited"])),
}


# -- tempting shortcuts that are not repairs ----------------------------------------------
def _delete_role(iam, name: str) -> None:
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=name)


def delete_deploy_role(ctx: LabContext, details: Details) -> None:
    _delete_role(ctx.client("iam", details["account_id"]), details["role"])


def delete_image_role(ctx: LabContext, details: Details) -> None:
    _delete_role(ctx.client("iam"), details["role"])


WRONG_FIXES: dict[str, Callable[[LabContext, Details], None]] = {f.__name__: f for f in (
    delete_deploy_role, delete_image_role)}
