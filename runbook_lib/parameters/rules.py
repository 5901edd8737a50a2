"""Rules that need more than one field, or both files, to check.

Each function returns a list of :class:`ParameterIssue`; none raises, so one
run reports every problem.
"""

from __future__ import annotations

from .. import catalog, naming
from ..errors import ParameterIssue
from ..resolved import resolve
from .models import App, Org

# Environment variables the cicd-pipeline module sets on every deploy action.
PIPELINE_DEPLOY_ENV = ("DEPLOY_ROLE_ARN", "EKS_CLUSTER_NAME", "EKS_CLUSTER_REGION", "MANIFEST_PATH")


def check_org(org: Org, file: str) -> list[ParameterIssue]:
    issues: list[ParameterIssue] = []
    for field, repository, ref in (
        ("module_versions.terraform-codestar-setup", catalog.CODESTAR_SETUP, org.module_versions.codestar_setup),
        ("module_versions.terraform-eks-cicd", catalog.EKS_CICD, org.module_versions.eks_cicd),
    ):
        supported = catalog.supported_refs(repository)
        if ref not in supported:
            issues.append(ParameterIssue(
                file, field, ref,
                f"is not a pinned version this runbook supports for {repository} "
                f"(supported: {', '.join(supported)}; AWS provider {catalog.SUPPORTED_AWS_CONSTRAINT})",
            ))
    seen: dict[str, str] = {"operations": org.accounts.operations.id}
    for name, account in org.accounts.workloads.items():
        other = next((n for n, i in seen.items() if i == account.id), None)
        if other:
            issues.append(ParameterIssue(
                file, f"accounts.workloads.{name}.id", account.id,
                f"is already the id of account '{other}' (each account is listed once)",
            ))
        seen[name] = account.id
    if org.artifact_bucket == org.state_bucket:
        issues.append(ParameterIssue(
            file, "state_bucket", org.state_bucket,
            "is the same as artifact_bucket (keep Terraform state apart from pipeline artifacts)",
        ))
    return issues


def _length_issue(file: str, field: str, value: str, name: str, what: str, limit: int) -> ParameterIssue | None:
    if len(name) <= limit:
        return None
    return ParameterIssue(
        file, field, value,
        f"makes the {what} '{name}' {len(name)} characters long (the limit is {limit})",
    )


def check_app(app: App, org: Org, file: str, org_file: str) -> list[ParameterIssue]:
    issues: list[ParameterIssue] = []
    resolved = resolve(org, app)

    if app.source_repository.lower() == app.manifests_repository.lower():
        issues.append(ParameterIssue(
            file, "manifests_repository", app.manifests_repository,
            "is the same as source_repository (the guide keeps manifests in their own repository)",
        ))

    for project in (resolved.image_project_name, resolved.manifests_project_name, resolved.deploy_project_name):
        broken = naming.CODEBUILD_PROJECT.check(project)
        if broken:
            issues.append(ParameterIssue(file, "name", app.name, f"makes the CodeBuild project name '{project}' invalid: it {broken}"))
        issue = _length_issue(file, "name", app.name, project, "CodeBuild role name", naming.IAM_ROLE_NAME_MAX)
        if issue:
            issues.append(issue)
    issue = _length_issue(
        file, "name", app.name, resolved.image_project_name + naming.ECR_POLICY_SUFFIX,
        "ECR push policy name", naming.IAM_POLICY_NAME_MAX,
    )
    if issue:
        issues.append(issue)

    stage_seen: dict[str, int] = {}
    paths_seen: dict[str, str] = {}
    for i, (stage, rstage) in enumerate(zip(app.stages, resolved.stages)):
        if stage.name in stage_seen:
            issues.append(ParameterIssue(
                file, f"stages[{i}].name", stage.name,
                f"is already the name of stages[{stage_seen[stage.name]}] (stage names are unique)",
            ))
        stage_seen.setdefault(stage.name, i)
        broken = naming.PIPELINE_NAME.check(rstage.pipeline_name)
        if broken:
            issues.append(ParameterIssue(file, f"stages[{i}].name", stage.name, f"makes the pipeline name '{rstage.pipeline_name}' invalid: it {broken}"))
        issue = _length_issue(
            file, f"stages[{i}].name", stage.name, rstage.pipeline_role_name, "pipeline role name", naming.IAM_ROLE_NAME_MAX,
        )
        if issue:
            issues.append(issue)
        for key in stage.deploy_env_vars:
            issues += _env_issue(file, f"stages[{i}].deploy_env_vars.{key}", key)

        actions: dict[str, int] = {}
        for j, (dep, rdep) in enumerate(zip(stage.deployments, rstage.deployments)):
            where = f"stages[{i}].deployments[{j}]"
            if rdep.action in actions:
                issues.append(ParameterIssue(
                    file, f"{where}.{'name' if dep.name else 'cluster'}", rdep.action,
                    f"is already the deploy action of {where.rsplit('[', 1)[0]}[{actions[rdep.action]}] "
                    "(action names are unique within a stage; set 'name' to tell them apart)",
                ))
            actions.setdefault(rdep.action, j)
            if rdep.manifest_path in paths_seen:
                issues.append(ParameterIssue(
                    file, f"{where}.manifest_path", rdep.manifest_path,
                    f"is already the manifest path of {paths_seen[rdep.manifest_path]} "
                    "(every deployment reads its own file from the compiled manifests)",
                ))
            paths_seen.setdefault(rdep.manifest_path, where)

    for key in app.deploy_env_vars:
        issues += _env_issue(file, f"deploy_env_vars.{key}", key)
    return issues


def _env_issue(file: str, field: str, key: str) -> list[ParameterIssue]:
    if key.upper() in PIPELINE_DEPLOY_ENV:
        return [ParameterIssue(
            file, field, key,
            f"is set by the pipeline itself ({', '.join(PIPELINE_DEPLOY_ENV)}); choose another name",
        )]
    return []
