"""Postflight: after each root is applied, is it wired the way the guide needs?

One function per check, read-only (Describe/Get/List/BatchGet only), batch APIs
where AWS has them. In the sandbox they read its emulated services the same way:
the connection, source credential and webhooks PASS or FAIL by what it holds.
"""

from __future__ import annotations

import json

from ..naming import EKS_DEPLOY_ACCESS_POLICY_NAME, eks_deploy_access_policy, iam_arn
from ..resolved import connection_parameter, resolve
from . import links
from .base import AWS_ERRORS, Context, clusters_of, error_code, result, unreachable
from .result import CheckResult, Status
from .sessions import CredentialsError

ERRORS = AWS_ERRORS + (CredentialsError,)


# -- common root ---------------------------------------------------------------------
def check_artifact_bucket(ctx: Context) -> list[CheckResult]:
    bucket = ctx.org.artifact_bucket
    resource = f"s3 bucket {bucket} in operations ({ctx.ops})"
    try:
        s3 = ctx.client("s3")
        s3.head_bucket(Bucket=bucket)
    except ERRORS as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return [result("common.artifact-bucket.exists", False, resource, "exists", "missing",
                           "Apply the common root (runbook apply).", links.S3_VERSIONING)]
        return [unreachable("common.artifact-bucket.exists", resource, "exists", exc)]
    out = [result("common.artifact-bucket.exists", True, resource, "exists", "exists", "")]
    try:
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
        out.append(result("common.artifact-bucket.versioning", versioning == "Enabled", resource, "Enabled", versioning,
                          "Re-apply the common root; the artifact-bucket module turns versioning on.", links.S3_VERSIONING))
    except ERRORS as exc:
        out.append(unreachable("common.artifact-bucket.versioning", resource, "Enabled", exc))
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        algorithms = [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules]
        out.append(result("common.artifact-bucket.encryption", bool(algorithms), resource, "AES256 or aws:kms",
                          ", ".join(algorithms) or "none", "Re-apply the common root.", links.S3_ENCRYPTION))
    except ERRORS as exc:
        if error_code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            out.append(result("common.artifact-bucket.encryption", False, resource, "AES256 or aws:kms", "none",
                              "Re-apply the common root.", links.S3_ENCRYPTION))
        else:
            out.append(unreachable("common.artifact-bucket.encryption", resource, "AES256 or aws:kms", exc))
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        off = sorted(k for k, v in block.items() if not v)
        out.append(result("common.artifact-bucket.public-access", not off, resource, "all four blocks on",
                          "all on" if not off else "off: " + ", ".join(off), "Re-apply the common root.", links.S3_BLOCK_PUBLIC))
    except ERRORS as exc:
        if error_code(exc) == "NoSuchPublicAccessBlockConfiguration":
            out.append(result("common.artifact-bucket.public-access", False, resource, "all four blocks on", "none set",
                              "Re-apply the common root.", links.S3_BLOCK_PUBLIC))
        else:
            out.append(unreachable("common.artifact-bucket.public-access", resource, "all four blocks on", exc))
    return out


def connection_arn(ctx: Context) -> str | None:
    """The connection ARN from the SSM parameter the codestar-connection module writes (a String, not a secret).

    None when the parameter does not exist; any other failure is raised for the caller to report.
    """
    if "connection_arn" not in ctx.cache:
        try:
            param = ctx.client("ssm").get_parameter(Name=connection_parameter(ctx.org.codestar_connection_name))
            ctx.cache["connection_arn"] = param["Parameter"]["Value"]
        except ERRORS as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            ctx.cache["connection_arn"] = None
    return ctx.cache["connection_arn"]


def common_prerequisites(ctx: Context) -> list[CheckResult]:
    """What the CI and CD roots read from the common root: the artifact bucket and the connection's SSM parameter.

    Both FAIL until the common root (notebook 01, or `runbook apply`) is applied in this target.
    """
    out = check_artifact_bucket(ctx)[:1]
    parameter = connection_parameter(ctx.org.codestar_connection_name)
    resource = f"ssm parameter {parameter} in operations ({ctx.ops})"
    try:
        arn = connection_arn(ctx)
        out.append(result("common.connection.parameter", arn is not None, resource, "exists",
                          "exists" if arn else "missing", "Apply the common root first."))
    except ERRORS as exc:
        out.append(unreachable("common.connection.parameter", resource, "exists", exc))
    return out


def check_connection(ctx: Context) -> list[CheckResult]:
    name = ctx.org.codestar_connection_name
    param = connection_parameter(name)
    resource = f"codestar connection {name} in operations ({ctx.ops})"
    try:
        arn = connection_arn(ctx)
    except ERRORS as exc:
        return [unreachable("common.connection.parameter", f"ssm parameter {param}", "holds the connection ARN", exc)]
    if arn is None:
        return [result("common.connection.parameter", False, f"ssm parameter {param}", "holds the connection ARN",
                       "missing", "Apply the common root (runbook apply).", links.CONNECTION_HANDSHAKE)]
    out = [result("common.connection.parameter", True, f"ssm parameter {param}", "holds the connection ARN", arn, "")]
    try:
        status = ctx.client("codestar-connections").get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"]
    except ERRORS as exc:
        return out + [unreachable("common.connection.status", resource, "AVAILABLE", exc)]
    remedy = ("Complete the GitHub handshake: AWS console > Developer Tools > Settings > Connections > "
              f"{name} > Update pending connection, then install or pick the GitHub app for {ctx.org.github_owner}.")
    if getattr(ctx.clients, "sandbox", False):
        remedy = (f"Sandbox: run `runbook sandbox complete-handshake {name}`, the sandbox's stand-in for the console "
                  f"step. On AWS: {remedy[0].lower()}{remedy[1:]}")
    return out + [result("common.connection.status", status == "AVAILABLE", resource, "AVAILABLE", status, remedy,
                         links.CONNECTION_HANDSHAKE)]


def check_source_credential(ctx: Context) -> list[CheckResult]:
    resource = f"codebuild source credentials in operations ({ctx.ops})"
    try:
        infos = ctx.client("codebuild").list_source_credentials()["sourceCredentialsInfos"]
    except ERRORS as exc:
        return [unreachable("common.source-credential", resource, "a GITHUB credential", exc)]
    kinds = sorted({f"{i['serverType']}/{i['authType']}" for i in infos})
    return [result("common.source-credential", any(i["serverType"] == "GITHUB" for i in infos), resource,
                   "a GITHUB credential", ", ".join(kinds) or "none",
                   f"Apply the common root; its codebuild-credential reads the token from {ctx.org.github_token_parameter}.",
                   links.CODEBUILD_SOURCE_CREDENTIALS)]


def _statements(document) -> list[dict]:
    doc = json.loads(document) if isinstance(document, str) else document
    statements = doc.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _principals(statement: dict) -> set[str]:
    principal = statement.get("Principal", {})
    values = principal.get("AWS", []) if isinstance(principal, dict) else principal
    return set([values] if isinstance(values, str) else values)


def check_deploy_roles(ctx: Context) -> list[CheckResult]:
    targets = clusters_of(ctx)
    ops_root = iam_arn(ctx.org.region, ctx.ops, "root")
    out = []
    for t in targets:
        check_id = f"common.deploy-role.{t.account_name}.{t.cluster}"
        resource = f"iam role {t.role_name} in {t.account_name} ({t.account_id})"
        expected = f"tag deployTo={t.cluster}; trusts {ops_root} on aws:PrincipalTag/cluster.{t.cluster}.deploy"
        try:
            role = ctx.client("iam", t.account_id).get_role(RoleName=t.role_name)["Role"]
        except ERRORS as exc:
            if error_code(exc) == "NoSuchEntity":
                out.append(result(check_id, False, resource, expected, "missing",
                                  "Apply the common root; it creates one deploy role per cluster.", links.IAM_ROLES))
            else:
                out.append(unreachable(check_id, resource, expected, exc))
            continue
        tags = {t_["Key"]: t_["Value"] for t_ in role.get("Tags", [])}
        allows = [s for s in _statements(role["AssumeRolePolicyDocument"]) if s.get("Effect") == "Allow"]
        condition_key = f"aws:PrincipalTag/cluster.{t.cluster}.deploy"

        def from_ops(statement: dict) -> bool:
            return bool({ops_root, ctx.ops} & _principals(statement))

        def conditioned(statement: dict) -> bool:
            return condition_key in json.dumps(statement.get("Condition", {}))

        problems = []
        if tags.get("deployTo") != t.cluster:
            problems.append(f"deployTo tag is {tags.get('deployTo')!r}")
        if not any(from_ops(s) for s in allows):
            problems.append("does not trust the Operations account")
        elif not any(from_ops(s) and conditioned(s) for s in allows):
            problems.append("trust lacks the cluster principal-tag condition")
        if any(not conditioned(s) for s in allows):
            problems.append("a trust statement has no cluster principal-tag condition (anyone it names may deploy)")
        out.append(result(check_id, not problems, resource, expected, "; ".join(problems) or "as expected",
                          "Re-apply the common root so the deploy-role module restores it.", links.IAM_ROLES))
    return out


def aws_auth_mapping(role_arn: str) -> str:
    """The aws-auth ConfigMap entry that gives a deploy role the cluster (for clusters managed that way)."""
    return (f"mapRoles: - rolearn: {role_arn} / username: deploy / groups: [a group bound to the edit "
            "ClusterRole in the application's namespaces]")


def check_cluster_access(ctx: Context) -> list[CheckResult]:
    """Can the deploy role reach each cluster's Kubernetes API? thoughtbot's deploy-role grants only DescribeCluster."""
    targets = clusters_of(ctx)
    out = []
    for t in targets:
        check_id = f"common.cluster-access.{t.account_name}.{t.cluster}"
        resource = f"eks access entries of {t.cluster} in {t.account_name} ({t.account_id}, {t.region})"
        scope = f"namespaces {', '.join(t.namespaces)}" if t.namespaces else "the cluster"
        expected = f"{t.role_name}: an access entry with {EKS_DEPLOY_ACCESS_POLICY_NAME} on {scope}"
        eks = ctx.client("eks", t.account_id, t.region)
        try:
            principals = eks.list_access_entries(clusterName=t.cluster)["accessEntries"]
        except ERRORS as exc:
            if error_code(exc) == "ResourceNotFoundException":
                out.append(result(check_id, False, resource, expected, f"no cluster {t.cluster} there: {exc}",
                                  "Check the cluster's name, account and region in org.yaml (the preflight "
                                  "check pre.cluster says the same).", links.EKS_CLUSTERS))
            elif error_code(exc) == "InvalidRequestException":   # the cluster's authentication mode is CONFIG_MAP
                out.append(result(check_id, t.access != "access_entry", resource, expected,
                                  f"access entries are off on this cluster: {exc}",
                                  f"aws eks update-cluster-config --name {t.cluster} --region {t.region} --access-config "
                                  "authenticationMode=API_AND_CONFIG_MAP, then re-apply the common root.",
                                  links.EKS_ACCESS_ENTRIES, warn=True))
            else:
                out.append(unreachable(check_id, resource, expected, exc))
            continue
        if t.role_arn not in principals:
            if t.access == "access_entry":
                out.append(result(check_id, False, resource, expected, "no access entry for the deploy role: the "
                                  "deploy's kubectl would get Unauthorized",
                                  "Re-apply the common root; it creates the access entry.", links.EKS_ACCESS_ENTRIES))
            else:
                out.append(result(check_id, False, resource, expected, f"no access entry (deploy_access: {t.access}; "
                                  "an aws-auth mapping cannot be read from AWS)",
                                  f"Make sure the cluster maps the role: {aws_auth_mapping(t.role_arn)}",
                                  links.EKS_ACCESS_ENTRIES, warn=True))
            continue
        policies = eks.list_associated_access_policies(clusterName=t.cluster, principalArn=t.role_arn)[
            "associatedAccessPolicies"]
        wanted = {"type": "namespace", "namespaces": sorted(t.namespaces)} if t.namespaces else {"type": "cluster"}
        found = [p for p in policies if p["policyArn"] == eks_deploy_access_policy(t.region)]
        scopes = [{"type": p["accessScope"]["type"], **({"namespaces": sorted(p["accessScope"].get("namespaces", []))}
                                                         if p["accessScope"]["type"] == "namespace" else {})}
                  for p in found]
        ok = wanted in scopes
        out.append(result(check_id, ok, resource, expected,
                          "as expected" if ok else f"policies: {[p['policyArn'].rsplit('/', 1)[1] for p in policies]}, "
                                                   f"scopes: {scopes}",
                          "Re-apply the common root; it associates the access policy.", links.EKS_ACCESS_ENTRIES))
    return out


# -- CI root ---------------------------------------------------------------------------
def check_ecr(ctx: Context) -> list[CheckResult]:
    app = ctx.app
    names = [app.ecr_repository, f"{app.ecr_repository}-base"]
    resource = f"ecr repositories {', '.join(names)} in operations ({ctx.ops})"
    try:
        ecr = ctx.client("ecr")
        repos = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}
    except ERRORS as exc:
        return [unreachable("ci.ecr.exists", resource, "both exist", exc)]
    missing = [n for n in names if n not in repos]
    out = [result("ci.ecr.exists", not missing, resource, "both exist", "missing: " + ", ".join(missing) if missing else "both exist",
                  "Apply the CI root (runbook apply).", links.ECR_IMMUTABLE)]
    present = [n for n in names if n in repos]
    mutable = [n for n in present if repos[n].get("imageTagMutability") != "IMMUTABLE"]
    if present:  # a missing repository is ci.ecr.exists' finding, not this one's
        out.append(result("ci.ecr.immutable-tags", not mutable, f"ecr repositories {', '.join(present)}", "IMMUTABLE",
                          "mutable: " + ", ".join(mutable) if mutable else "IMMUTABLE",
                          "Tags are commits: keep them immutable. Re-apply the CI root.", links.ECR_IMMUTABLE))
    else:
        out.append(CheckResult("ci.ecr.immutable-tags", Status.SKIP, resource, "IMMUTABLE", "no repository to look at"))
    if app.ecr_repository not in repos:
        return out
    workloads = resolve(ctx.org, app).workload_accounts
    wanted = {iam_arn(ctx.org.region, ctx.org.accounts.workloads[n].id, "root") for n in workloads}
    try:
        policy = ecr.get_repository_policy(repositoryName=app.ecr_repository)["policyText"]
        allowed = set().union(*(_principals(s) for s in _statements(policy)
                                if s.get("Effect") == "Allow" and "ecr:BatchGetImage" in json.dumps(s.get("Action", []))))
        allowed -= set().union(*(_principals(s) for s in _statements(policy)
                                 if s.get("Effect") == "Deny" and "ecr:BatchGetImage" in json.dumps(s.get("Action", []))))
    except ERRORS as exc:
        if error_code(exc) != "RepositoryPolicyNotFoundException":
            return out + [unreachable("ci.ecr.workload-pull", resource, "pull for every workload account", exc)]
        allowed = set()
    lacking = sorted(wanted - allowed)
    out.append(result("ci.ecr.workload-pull", not lacking, f"ecr repository policy of {app.ecr_repository}",
                      "pull for " + ", ".join(sorted(wanted)), "missing: " + ", ".join(lacking) if lacking else "all allowed",
                      "Re-apply the CI root; ecr-repository grants pull to workload_account_ids.", links.ECR_POLICIES))
    return out


def _projects(ctx: Context) -> dict[str, dict]:
    """Every CodeBuild project of the app, fetched with one BatchGetProjects call and kept for the run."""
    if "projects" not in ctx.cache:
        r = resolve(ctx.org, ctx.app)
        names = [r.image_project_name, r.manifests_project_name, r.deploy_project_name]
        found = ctx.client("codebuild").batch_get_projects(names=names)["projects"]
        ctx.cache["projects"] = {p["name"]: p for p in found}
    return ctx.cache["projects"]


def _env(project: dict) -> dict[str, str]:
    return {v["name"]: v.get("value", "") for v in project.get("environment", {}).get("environmentVariables", [])}


def _webhook(ctx: Context, check_id: str, project: dict, resource: str) -> CheckResult:
    expected = "webhook on PULL_REQUEST_CREATED,PULL_REQUEST_UPDATED"
    hook = project.get("webhook") or {}
    patterns = {f.get("pattern") for group in hook.get("filterGroups", []) for f in group if f.get("type") == "EVENT"}
    ok = bool(hook) and any("PULL_REQUEST_CREATED" in (p or "") and "PULL_REQUEST_UPDATED" in (p or "") for p in patterns)
    return result(check_id, ok, resource, expected, ", ".join(sorted(p for p in patterns if p)) or "no webhook",
                  "Re-apply the CI root with the GitHub source credential in place.", links.CODEBUILD_WEBHOOKS)


def check_ci_projects(ctx: Context) -> list[CheckResult]:
    r = resolve(ctx.org, ctx.app)
    app = ctx.app
    try:
        projects = _projects(ctx)
    except ERRORS as exc:
        return [unreachable("ci.projects", "codebuild projects", "exist", exc)]
    out = []
    for kind, name, repo, privileged in (("image", r.image_project_name, app.source_repository, True),
                                         ("manifests", r.manifests_project_name, app.manifests_repository, False)):
        resource = f"codebuild project {name} in operations ({ctx.ops})"
        project = projects.get(name)
        if project is None:
            out.append(result(f"ci.project.{kind}.exists", False, resource, "exists", "missing",
                              "Apply the CI root (runbook apply).", links.CODEBUILD_PROJECTS))
            continue
        location = project.get("source", {}).get("location", "")
        wanted = f"https://github.com/{repo}.git"
        out.append(result(f"ci.project.{kind}.source", location == wanted, resource, wanted, location or "none",
                          "Re-apply the CI root.", links.CODEBUILD_PROJECTS))
        mode = bool(project.get("environment", {}).get("privilegedMode"))
        out.append(result(f"ci.project.{kind}.privileged", mode == privileged, resource,
                          "privileged (Docker builds)" if privileged else "not privileged", "privileged" if mode else "not privileged",
                          "Re-apply the CI root.", links.CODEBUILD_PROJECTS))
        env = _env(project)
        out.append(result(f"ci.project.{kind}.environment", env.get("ECR_REPOSITORY_NAME") == app.ecr_repository, resource,
                          f"ECR_REPOSITORY_NAME={app.ecr_repository}", f"ECR_REPOSITORY_NAME={env.get('ECR_REPOSITORY_NAME')}",
                          "Re-apply the CI root.", links.CODEBUILD_PROJECTS))
        if kind == "manifests":
            secondary = {s.get("sourceIdentifier"): s.get("location") for s in project.get("secondarySources", [])}
            want = f"https://github.com/{app.source_repository}.git"
            out.append(result("ci.project.manifests.secondary-source", secondary.get("source") == want, resource,
                              f"source = {want}", str(secondary.get("source")), "Re-apply the CI root.", links.CODEBUILD_PROJECTS))
        out.append(_webhook(ctx, f"ci.project.{kind}.webhook", project, resource))
    return out


# -- CD root ---------------------------------------------------------------------------
def check_deploy_project(ctx: Context) -> list[CheckResult]:
    r = resolve(ctx.org, ctx.app)
    resource = f"codebuild project {r.deploy_project_name} in operations ({ctx.ops})"
    try:
        project = _projects(ctx).get(r.deploy_project_name)
    except ERRORS as exc:
        return [unreachable("cd.deploy-project.exists", resource, "exists", exc)]
    if project is None:
        return [result("cd.deploy-project.exists", False, resource, "exists", "missing",
                       "Apply the CD root (runbook apply).", links.CODEBUILD_PROJECTS)]
    out = [result("cd.deploy-project.exists", True, resource, "exists", "exists", "")]
    role_name = project.get("serviceRole", "").rsplit("/", 1)[-1]
    wanted = {f"cluster.{c}.deploy" for c in r.cluster_names}
    try:
        tags = {t["Key"]: t["Value"] for t in ctx.client("iam").list_role_tags(RoleName=role_name)["Tags"]}
    except ERRORS as exc:
        return out + [unreachable("cd.deploy-project.role-tags", f"iam role {role_name}", ", ".join(sorted(wanted)), exc)]
    lacking = sorted(k for k in wanted if tags.get(k) != "true")
    out.append(result("cd.deploy-project.role-tags", not lacking, f"iam role {role_name} in operations ({ctx.ops})",
                      ", ".join(f"{k}=true" for k in sorted(wanted)), "missing: " + ", ".join(lacking) if lacking else "all tagged",
                      "Re-apply the CD root; the deploy project's role needs a tag per cluster to assume its deploy role.",
                      links.IAM_ROLES))
    return out


def check_pipelines(ctx: Context) -> list[CheckResult]:
    r = resolve(ctx.org, ctx.app)
    app = ctx.app
    try:
        pipeline_client = ctx.client("codepipeline")
        connection = connection_arn(ctx)
    except ERRORS as exc:
        return [unreachable(f"cd.pipeline.{stage.name}.exists", f"codepipeline {stage.pipeline_name}", "exists", exc)
                for stage in r.stages]
    out = []
    for stage in r.stages:
        check_id = f"cd.pipeline.{stage.name}"
        resource = f"codepipeline {stage.pipeline_name} in operations ({ctx.ops})"
        try:
            pipeline = pipeline_client.get_pipeline(name=stage.pipeline_name)["pipeline"]
        except ERRORS as exc:
            if error_code(exc) == "PipelineNotFoundException":
                out.append(result(f"{check_id}.exists", False, resource, "exists", "missing",
                                  "Apply the CD root (runbook apply).", links.CODEPIPELINE))
            else:
                out.append(unreachable(f"{check_id}.exists", resource, "exists", exc))
            continue
        stages = {s["name"]: s for s in pipeline["stages"]}
        out.append(result(f"{check_id}.stages", list(stages) == ["Source", "Build", "Deploy"], resource,
                          "Source, Build, Deploy", ", ".join(stages), "Re-apply the CD root.", links.CODEPIPELINE))
        sources = {a["configuration"].get("FullRepositoryId"): a["configuration"] for a in stages.get("Source", {}).get("actions", [])}
        for repo, branch in ((app.source_repository, stage.branch), (app.manifests_repository, stage.manifests_branch)):
            config = sources.get(repo, {})
            problems = []
            if not config:
                problems.append(f"no source action for {repo}")
            else:
                if config.get("BranchName") != branch:
                    problems.append(f"branch {config.get('BranchName')!r}")
                if connection and config.get("ConnectionArn") != connection:
                    problems.append(f"connection {config.get('ConnectionArn')}")
            out.append(result(f"{check_id}.source.{repo.split('/', 1)[1]}", not problems, resource,
                              f"{repo}@{branch} through {connection or 'the connection'}", "; ".join(problems) or "as expected",
                              "Re-apply the CD root (check the stage's branch in the app parameters).", links.CODEPIPELINE))
        actions = {a["name"]: a for a in stages.get("Deploy", {}).get("actions", [])}
        for dep in stage.deployments:
            action = actions.get(dep.action)
            expected = {"DEPLOY_ROLE_ARN": dep.target.role_arn, "EKS_CLUSTER_NAME": dep.cluster,
                        "EKS_CLUSTER_REGION": dep.region, "MANIFEST_PATH": dep.manifest_path,
                        **{k.upper(): v for k, v in stage.deploy_env_vars.items()}}
            if action is None:
                out.append(result(f"{check_id}.deploy.{dep.action}", False, resource, f"deploy action {dep.action}",
                                  "missing", "Re-apply the CD root.", links.CODEPIPELINE))
                continue
            try:
                env = {v["name"]: v.get("value")
                       for v in json.loads(action["configuration"].get("EnvironmentVariables", "[]"))}
            except (ValueError, TypeError, KeyError) as exc:
                out.append(result(f"{check_id}.deploy.{dep.action}", False, resource, "EnvironmentVariables as JSON",
                                  f"not readable: {exc}", "Re-apply the CD root.", links.CODEPIPELINE))
                continue
            wrong = sorted(k for k, v in expected.items() if env.get(k) != v)
            project_ok = action["configuration"].get("ProjectName") == r.deploy_project_name
            found = ("wrong or missing: " + ", ".join(wrong)) if wrong else "as expected"
            if not project_ok:
                found += f"; runs {action['configuration'].get('ProjectName')}"
            out.append(result(f"{check_id}.deploy.{dep.action}", not wrong and project_ok, resource,
                              f"runs {r.deploy_project_name} with " + ", ".join(f"{k}={v}" for k, v in expected.items()),
                              found, "Re-apply the CD root.", links.CODEPIPELINE))
    return out


COMMON = (check_artifact_bucket, check_connection, check_source_credential, check_deploy_roles, check_cluster_access)
CI = (check_ecr, check_ci_projects)
CD = (check_deploy_project, check_pipelines)


ROOTS = {"common": COMMON, "ci": CI, "cd": CD}


def postflight(ctx: Context, roots: tuple[str, ...] = ("common", "ci", "cd")) -> list[CheckResult]:
    """The checks of the given roots only (CI and CD need an app), so no call is made for the others."""
    checks = [c for root in roots if root == "common" or ctx.app for c in ROOTS[root]]
    return [r for check in checks for r in guarded(check, ctx)]


def guarded(check, ctx: Context) -> list[CheckResult]:
    """Run one check; an AWS failure it did not report itself becomes a FAIL result, never a traceback."""
    try:
        return check(ctx)
    except ERRORS as exc:
        return [unreachable(check.__name__.replace("check_", "").replace("_", "-"), check.__name__, "a result", exc)]
