"""Rules that need more than one field, or both files, to check.

Each function returns a list of :class:`ParameterIssue`; none raises, so one
run reports every problem.
"""

from __future__ import annotations

from .. import catalog, naming
from ..errors import ParameterIssue
from ..naming import PROJECT_SUFFIXES, RUNBOOK_TAG_KEYS, codebuild_name, default_manifest_path
from .models import Org

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
    return issues + _tag_issues(org, file) + _cluster_clashes(org, file)


def _tag_issues(org: Org, file: str) -> list[ParameterIssue]:
    """Tags the runbook sets itself, and more tags than AWS takes on one resource.

    The application roots tag their resources with the org tags and the
    runbook's own (RUNBOOK_TAG_KEYS), so both count in the limit.
    """
    issues: list[ParameterIssue] = []
    own = ", ".join(RUNBOOK_TAG_KEYS)
    for key in org.tags:
        if key in RUNBOOK_TAG_KEYS:
            issues.append(ParameterIssue(
                file, f"tags.{key} (key)", key,
                f"is a tag key the runbook sets itself on resources ({own}); choose another key",
            ))
    allowed = naming.TAGS_PER_RESOURCE_MAX - len(RUNBOOK_TAG_KEYS)
    if len(org.tags) > allowed:
        issues.append(ParameterIssue(
            file, "tags", org.tags,
            f"holds {len(org.tags)} tags; at most {allowed} are allowed (AWS takes "
            f"{naming.TAGS_PER_RESOURCE_MAX} tags per resource and the runbook adds its own: {own})",
        ))
    return issues


def _cluster_clashes(org: Org, file: str) -> list[ParameterIssue]:
    """Two clusters that would get one module block in the common root, or one deploy role in one account.

    Terraform refuses two module blocks with one name ("Duplicate module call"),
    and IAM has one role per name in an account, whatever the region and the case.
    """
    issues: list[ParameterIssue] = []
    modules: dict[str, tuple[str, str]] = {}            # module name -> (field, cluster) that gave it first
    roles: dict[tuple[str, str], tuple[str, str]] = {}  # (account id, role name in lowercase) -> same
    for account_name, account in org.accounts.workloads.items():
        for k, cluster in enumerate(account.clusters):
            field = f"accounts.workloads.{account_name}.clusters[{k}].name"
            module = naming.deploy_role_module_name(account_name, cluster.name)
            role = naming.deploy_role_name(cluster.name)
            role_key = (account.id, role.lower())
            clashes: dict[tuple[str, str], list[tuple[str, str]]] = {}   # earlier (field, cluster) -> [(what, reason)]
            if module in modules:
                clashes.setdefault(modules[module], []).append((
                    f"the Terraform module name '{module}'",
                    "module names turn '-' into '_' and ignore case",
                ))
            if role_key in roles:
                clashes.setdefault(roles[role_key], []).append((
                    f"the deploy role '{role}' in account '{account_name}'",
                    "IAM role names are unique in an account whatever the region, ignoring case",
                ))
            for (other_field, other_cluster), found in clashes.items():
                what = " and ".join(w for w, _ in found)
                why = "; ".join(r for _, r in found)
                issues.append(ParameterIssue(
                    file, field, cluster.name,
                    f"gives {what}, as {other_field} = {other_cluster!r} does ({why}); rename or remove one of the two",
                ))
            modules.setdefault(module, (field, cluster.name))
            roles.setdefault(role_key, (field, cluster.name))
    return issues


def _length_issue(file: str, field: str, value: str, name: str, what: str, limit: int) -> ParameterIssue | None:
    if len(name) <= limit:
        return None
    return ParameterIssue(
        file, field, value,
        f"makes the {what} '{name}' {len(name)} characters long (the limit is {limit})",
    )


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _items(value) -> list:
    return value if isinstance(value, list) else []


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def check_app(data: dict, org: Org, file: str) -> list[ParameterIssue]:
    """Cross-field rules, read from the raw file so they run even when some fields are invalid.

    Values of the wrong type are skipped here: the field-level pass reports them.
    """
    issues: list[ParameterIssue] = []
    namespace = [org.namespace]
    source, manifests = _text(data.get("source_repository")), _text(data.get("manifests_repository"))
    if source and manifests and source.lower() == manifests.lower():
        issues.append(ParameterIssue(
            file, "manifests_repository", manifests,
            "is the same as source_repository (the guide keeps manifests in their own repository)",
        ))

    name = _text(data.get("name"))
    if name is not None and naming.SLUG.check(name) is not None:
        name = None  # the field-level pass reports it; names built from it would only repeat that
    if name:
        projects = [codebuild_name(namespace, f"{name}-{suffix}") for suffix in PROJECT_SUFFIXES]
        for project in projects:
            broken = naming.CODEBUILD_PROJECT.check(project)
            if broken:
                issues.append(ParameterIssue(file, "name", name, f"makes the CodeBuild project name '{project}' invalid: it {broken}"))
            issue = _length_issue(file, "name", name, project, "CodeBuild project and IAM role name", naming.IAM_ROLE_NAME_MAX)
            if issue:
                issues.append(issue)
        issue = _length_issue(file, "name", name, projects[0] + naming.ECR_POLICY_SUFFIX,
                              "ECR push policy name", naming.IAM_POLICY_NAME_MAX)
        if issue:
            issues.append(issue)

    stage_seen: dict[str, int] = {}
    paths_seen: dict[str, str] = {}
    for i, stage in enumerate(_items(data.get("stages"))):
        stage = _mapping(stage)
        stage_name = _text(stage.get("name"))
        if stage_name is not None:
            if stage_name in stage_seen:
                issues.append(ParameterIssue(
                    file, f"stages[{i}].name", stage_name,
                    f"is already the name of stages[{stage_seen[stage_name]}] (stage names are unique)",
                ))
            stage_seen.setdefault(stage_name, i)
            if name:
                pipeline = codebuild_name(namespace, f"{name}-{stage_name}")
                broken = naming.PIPELINE_NAME.check(pipeline)
                if broken:
                    issues.append(ParameterIssue(file, f"stages[{i}].name", stage_name, f"makes the pipeline name '{pipeline}' invalid: it {broken}"))
                issue = _length_issue(file, f"stages[{i}].name", stage_name, pipeline + naming.PIPELINE_ROLE_SUFFIX,
                                      "pipeline role name", naming.IAM_ROLE_NAME_MAX)
                if issue:
                    issues.append(issue)
        for key in _mapping(stage.get("deploy_env_vars")):
            issues += _env_issue(file, f"stages[{i}].deploy_env_vars.{key}", key)

        actions: dict[str, int] = {}
        for j, dep in enumerate(_items(stage.get("deployments"))):
            dep = _mapping(dep)
            where = f"stages[{i}].deployments[{j}]"
            cluster = _text(dep.get("cluster"))
            action = _text(dep.get("name")) or cluster
            if action is not None:
                if action in actions:
                    issues.append(ParameterIssue(
                        file, f"{where}.{'name' if dep.get('name') else 'cluster'}", action,
                        f"is already the deploy action of stages[{i}].deployments[{actions[action]}] "
                        "(action names are unique within a stage; set 'name' to tell them apart)",
                    ))
                actions.setdefault(action, j)
            path = _text(dep.get("manifest_path")) or (
                default_manifest_path(stage_name, cluster) if stage_name and cluster else None
            )
            if path is not None:
                if path in paths_seen:
                    issues.append(ParameterIssue(
                        file, f"{where}.manifest_path", path,
                        f"is already the manifest path of {paths_seen[path]} "
                        "(every deployment reads its own file from the compiled manifests)",
                    ))
                paths_seen.setdefault(path, where)

    for key in _mapping(data.get("deploy_env_vars")):
        issues += _env_issue(file, f"deploy_env_vars.{key}", key)
    return issues


def _env_issue(file: str, field: str, key: str) -> list[ParameterIssue]:
    if key.upper() in PIPELINE_DEPLOY_ENV:
        return [ParameterIssue(
            file, field, key,
            f"is set by the pipeline itself ({', '.join(PIPELINE_DEPLOY_ENV)}); choose another name",
        )]
    return []
