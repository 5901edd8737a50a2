"""What the applied suite is made of, by identity: taken when a lab starts, compared when it is graded.

A resource deleted and created again has the same name but not the same identity (an
IAM role's id and creation date, a project's or repository's creation time, a
connection's ARN), so "fixing" a fault by deleting what holds it shows up here.
Keys read ``KIND NAME in ACCOUNT``; a lab may allow some kinds to be created anew.
"""

from __future__ import annotations

from .context import LabContext

ROLE, REPOSITORY, PROJECT, PIPELINE = "iam role", "ecr repository", "codebuild project", "codepipeline"
BUCKET, CONNECTION, CREDENTIAL, STATE = "s3 bucket", "codestar connection", "codebuild source credential", "terraform state"
KINDS = (ROLE, REPOSITORY, PROJECT, PIPELINE, BUCKET, CONNECTION, CREDENTIAL, STATE)


def _accounts(ctx: LabContext) -> list[str]:
    return [ctx.ops, *(a.id for a in ctx.org.accounts.workloads.values())]


def snapshot(ctx: LabContext) -> dict[str, str]:
    found: dict[str, str] = {}
    for account in _accounts(ctx):
        for page in ctx.client("iam", account).get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                found[f"{ROLE} {role['RoleName']} in {account}"] = f"{role['RoleId']} {role['CreateDate'].isoformat()}"
    for repo in ctx.client("ecr").describe_repositories()["repositories"]:
        found[f"{REPOSITORY} {repo['repositoryName']} in {ctx.ops}"] = repo["createdAt"].isoformat()
    names = ctx.client("codebuild").list_projects()["projects"]
    for project in ctx.client("codebuild").batch_get_projects(names=names)["projects"] if names else []:
        found[f"{PROJECT} {project['name']} in {ctx.ops}"] = project["created"].isoformat()
    for pipeline in ctx.client("codepipeline").list_pipelines()["pipelines"]:
        found[f"{PIPELINE} {pipeline['name']} in {ctx.ops}"] = str(pipeline.get("created"))
    for bucket in ctx.client("s3").list_buckets()["Buckets"]:
        found[f"{BUCKET} {bucket['Name']} in {ctx.ops}"] = bucket["CreationDate"].isoformat()
    for connection in ctx.client("codestar-connections").list_connections()["Connections"]:
        found[f"{CONNECTION} {connection['ConnectionName']} in {ctx.ops}"] = connection["ConnectionArn"]
    for info in ctx.client("codebuild").list_source_credentials()["sourceCredentialsInfos"]:
        found[f"{CREDENTIAL} {info['serverType']} in {ctx.ops}"] = info["arn"]
    for root in ("cicd-common", f"ci/{ctx.app.name}", f"cd/{ctx.app.name}"):
        s3 = ctx.client("s3")
        try:
            s3.head_object(Bucket=ctx.org.state_bucket, Key=f"{root}/terraform.tfstate")
            found[f"{STATE} {root} in {ctx.ops}"] = "present"
        except s3.exceptions.ClientError:
            pass
    return found


def differences(before: dict[str, str], after: dict[str, str], may_replace: tuple[str, ...] = ()) -> list[str]:
    """What was deleted or created anew since ``before`` (new resources alone are not a problem)."""
    problems = []
    for key, identity in sorted(before.items()):
        if key.startswith(may_replace):
            continue
        if key not in after:
            problems.append(f"{key} was deleted")
        elif after[key] != identity:
            problems.append(f"{key} was deleted and created again (it is not the one that was there)")
    return problems
