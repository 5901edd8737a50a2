"""Names and defaults derived from the parameters, computed in one place.

The renderer, the cross-field rules and (later) the checks all ask this module
what a resource is called, so a name is never spelled two ways.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import naming
from .naming import PROJECT_SUFFIXES, codebuild_name, default_manifest_path
from .parameters.models import App, ManifestsTool, Org

# The connection provider is GitHub: the codebuild-credential module's lookup
# table only works for GitHub (its "Bitbucket" spelling does not match its table).
CONNECTION_PROVIDER = "GitHub"

DEFAULT_MANIFEST_SOURCE = {
    ManifestsTool.kustomize: "overlays/{stage}",
    ManifestsTool.helm: "values/{stage}.yaml",
    ManifestsTool.plain: "manifests/{stage}",
}


# CodeBuild projects per application: <app>-image, <app>-manifests, <app>-deploy.


def connection_parameter(connection_name: str) -> str:
    """SSM parameter the codestar-connection module writes with the connection ARN."""
    return f"/codestar_connection/{CONNECTION_PROVIDER}/{connection_name}"


@dataclass(frozen=True)
class DeployTarget:
    """One EKS cluster declared in org.yaml, and the deploy role the common root creates for it."""

    account_name: str
    account_id: str
    cluster: str
    region: str
    provider_alias: str
    access: str = "access_entry"          # DeployAccess value: how the role reaches Kubernetes
    namespaces: tuple[str, ...] = ()      # access_entry: the namespaces it may change (empty: the cluster)

    @property
    def role_name(self) -> str:
        return naming.deploy_role_name(self.cluster)

    @property
    def role_arn(self) -> str:
        return naming.iam_arn(self.region, self.account_id, f"role/{self.role_name}")

    @property
    def module_name(self) -> str:
        return naming.deploy_role_module_name(self.account_name, self.cluster)


def provider_alias(org: Org, account_name: str, region: str) -> str:
    """Workload account providers: ``<account>`` in the org's region, ``<account>_<region>`` elsewhere."""
    return account_name if region == org.region else f"{account_name}_{region.replace('-', '_')}"


def deploy_targets(org: Org) -> list[DeployTarget]:
    """Every declared cluster, in org.yaml order."""
    return [
        DeployTarget(name, account.id, cluster.name, cluster.region or org.region,
                     provider_alias(org, name, cluster.region or org.region), cluster.deploy_access.value,
                     tuple(cluster.deploy_namespaces))
        for name, account in org.accounts.workloads.items()
        for cluster in account.clusters
    ]


def workload_providers(org: Org) -> list[tuple[str, str, str]]:
    """(alias, account id, region) for every workload account, plus each other region that holds a cluster.

    Every account keeps its alias even when it holds no cluster in the org's
    region, so removing a cluster can still be planned away.
    """
    seen: dict[str, tuple[str, str, str]] = {}
    for name, account in org.accounts.workloads.items():
        seen[name] = (name, account.id, org.region)
    for target in deploy_targets(org):
        seen.setdefault(target.provider_alias, (target.provider_alias, target.account_id, target.region))
    return list(seen.values())


@dataclass(frozen=True)
class ResolvedDeployment:
    stage: str
    action: str
    target: DeployTarget
    manifest_path: str
    manifest_source: str

    @property
    def cluster(self) -> str:
        return self.target.cluster

    @property
    def region(self) -> str:
        return self.target.region


@dataclass(frozen=True)
class ResolvedStage:
    name: str
    branch: str
    manifests_branch: str
    deploy_env_vars: dict[str, str]
    deployments: tuple[ResolvedDeployment, ...]
    pipeline_module_name: str
    pipeline_name: str

    @property
    def pipeline_role_name(self) -> str:
        return f"{self.pipeline_name}{naming.PIPELINE_ROLE_SUFFIX}"


@dataclass(frozen=True)
class ResolvedApp:
    org: Org
    app: App
    ecr_namespace: tuple[str, ...]
    ecr_name: str
    image_project_module_name: str
    manifests_project_module_name: str
    deploy_project_module_name: str
    stages: tuple[ResolvedStage, ...]

    @property
    def namespace(self) -> list[str]:
        return [self.org.namespace]

    @property
    def image_project_name(self) -> str:
        return codebuild_name(self.namespace, self.image_project_module_name)

    @property
    def manifests_project_name(self) -> str:
        return codebuild_name(self.namespace, self.manifests_project_module_name)

    @property
    def deploy_project_name(self) -> str:
        return codebuild_name(self.namespace, self.deploy_project_module_name)

    @property
    def ecr_repository(self) -> str:
        return self.app.ecr_repository

    @property
    def deploy_targets(self) -> list[DeployTarget]:
        """The clusters this app deploys to, in first-use order."""
        seen: dict[tuple[str, str], DeployTarget] = {}
        for stage in self.stages:
            for dep in stage.deployments:
                seen.setdefault((dep.target.account_name, dep.cluster), dep.target)
        return list(seen.values())

    @property
    def cluster_names(self) -> list[str]:
        return sorted({t.cluster for t in self.deploy_targets})

    @property
    def workload_accounts(self) -> list[str]:
        """Workload account names this app deploys to, in org.yaml order."""
        used = {t.account_name for t in self.deploy_targets}
        return [name for name in self.org.accounts.workloads if name in used]


def resolve(org: Org, app: App) -> ResolvedApp:
    namespace = [org.namespace]
    ecr_parts = app.ecr_repository.split("/")
    targets = {(t.account_name, t.cluster): t for t in deploy_targets(org)}
    stages = []
    for stage in app.stages:
        deployments = []
        for dep in stage.deployments:
            source = dep.manifest_source or DEFAULT_MANIFEST_SOURCE[app.manifests_tool].format(stage=stage.name)
            deployments.append(
                ResolvedDeployment(
                    stage=stage.name,
                    action=dep.name or dep.cluster,
                    target=targets[(dep.account, dep.cluster)],
                    manifest_path=dep.manifest_path or default_manifest_path(stage.name, dep.cluster),
                    manifest_source=source,
                )
            )
        module_name = f"{app.name}-{stage.name}"
        stages.append(
            ResolvedStage(
                name=stage.name,
                branch=stage.branch,
                manifests_branch=stage.manifests_branch or stage.branch,
                deploy_env_vars={**app.deploy_env_vars, **stage.deploy_env_vars},
                deployments=tuple(deployments),
                pipeline_module_name=module_name,
                pipeline_name=codebuild_name(namespace, module_name),
            )
        )
    return ResolvedApp(
        org=org,
        app=app,
        ecr_namespace=tuple(ecr_parts[:-1]),
        ecr_name=ecr_parts[-1],
        image_project_module_name=f"{app.name}-{PROJECT_SUFFIXES[0]}",
        manifests_project_module_name=f"{app.name}-{PROJECT_SUFFIXES[1]}",
        deploy_project_module_name=f"{app.name}-{PROJECT_SUFFIXES[2]}",
        stages=tuple(stages),
    )
