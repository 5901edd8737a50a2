"""The parameter models: what an organization and an application file may say.

Field-level rules (patterns, lengths) live here; rules that need two fields or
two files live in :mod:`runbook_lib.parameters.rules`. Every field has a title
and a description, which the notebooks' forms show.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .. import naming


def _ruled(rule: naming.Rule):
    def check(value: str) -> str:
        broken = rule.check(value)
        if broken:
            raise ValueError(broken)
        return value

    return AfterValidator(check)


AccountId = Annotated[str, Field(strict=True), _ruled(naming.ACCOUNT_ID)]
Region = Annotated[str, _ruled(naming.REGION)]
Slug = Annotated[str, _ruled(naming.SLUG)]
KubernetesNamespace = Annotated[str, _ruled(naming.KUBERNETES_NAMESPACE)]
BucketName = Annotated[str, _ruled(naming.S3_BUCKET)]
GitHubRepository = Annotated[str, _ruled(naming.GITHUB_REPOSITORY)]
GitHubOwner = Annotated[str, _ruled(naming.GITHUB_OWNER)]
EcrRepository = Annotated[str, _ruled(naming.ECR_REPOSITORY)]


def _deploy_role_fits(cluster: str) -> str:
    role = naming.deploy_role_name(cluster)
    if len(role) > naming.IAM_ROLE_NAME_MAX:
        raise ValueError(
            f"makes the deploy role name '{role}' {len(role)} characters long "
            f"(the limit is {naming.IAM_ROLE_NAME_MAX})"
        )
    return cluster


ClusterName = Annotated[str, _ruled(naming.EKS_CLUSTER), AfterValidator(_deploy_role_fits)]
ActionName = Annotated[str, _ruled(naming.ACTION_NAME)]
Branch = Annotated[str, _ruled(naming.GIT_BRANCH)]
RelativePath = Annotated[str, _ruled(naming.RELATIVE_PATH)]
SsmParameterName = Annotated[str, _ruled(naming.SSM_PARAMETER_NAME)]
ConnectionName = Annotated[str, _ruled(naming.CODESTAR_CONNECTION_NAME)]
RoleName = Annotated[str, _ruled(naming.IAM_ROLE_NAME)]
EnvVarName = Annotated[str, _ruled(naming.ENV_VAR_NAME)]
TagKey = Annotated[str, _ruled(naming.TAG_KEY)]
TagValue = Annotated[str, _ruled(naming.TAG_VALUE)]
Version = Annotated[str, _ruled(naming.SEMVER)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Account(_Strict):
    id: AccountId = Field(title="Account id", description="The 12-digit AWS account id, quoted in YAML.")


class DeployAccess(str, Enum):
    """How the cluster's deploy role reaches the Kubernetes API (thoughtbot's deploy-role grants only DescribeCluster)."""

    access_entry = "access_entry"            # the common root creates an EKS access entry and its access policy
    aws_auth = "aws_auth"                    # you map the role in the aws-auth ConfigMap yourself
    managed_elsewhere = "managed_elsewhere"  # another tool grants it; the runbook only checks what it can see


class Cluster(_Strict):
    name: ClusterName = Field(title="EKS cluster", description="Name of an EKS cluster in this account.")
    region: Region | None = Field(None, title="Cluster region", description="Defaults to the organization's region.")
    deploy_access: DeployAccess = Field(
        DeployAccess.access_entry, title="Deploy access",
        description="How the deploy role reaches Kubernetes: access_entry (rendered: an EKS access entry with the "
                    "AmazonEKSEditPolicy; the cluster's authentication mode must be API or API_AND_CONFIG_MAP), "
                    "aws_auth or managed_elsewhere (you grant it; the runbook shows the mapping).")
    deploy_namespaces: list[KubernetesNamespace] = Field(
        default_factory=list, title="Deploy namespaces",
        description="access_entry only: the namespaces the deploy role may change; empty: the whole cluster.")


class WorkloadAccount(Account):
    clusters: list[Cluster] = Field(
        min_length=1,
        title="Clusters",
        description="The EKS clusters in this account; each gets one deploy role, shared by every application.",
    )


class Accounts(_Strict):
    operations: Account = Field(
        title="Operations account",
        description="Holds the artifact bucket, CodeBuild projects, pipelines and ECR repositories.",
    )
    workloads: dict[Slug, WorkloadAccount] = Field(
        min_length=1,
        title="Workload accounts",
        description="Named accounts that hold EKS clusters; each gets deploy roles.",
    )


class ModuleVersions(_Strict):
    codestar_setup: str = Field(
        "main",
        alias="terraform-codestar-setup",
        title="terraform-codestar-setup version",
        description="Pinned ref of the module source for the common resources.",
    )
    eks_cicd: str = Field(
        "v0.3.0",
        alias="terraform-eks-cicd",
        title="terraform-eks-cicd version",
        description="Pinned ref of the module source for the CI and CD modules.",
    )


class Tools(_Strict):
    kubectl: Version = Field("1.29.3", title="kubectl version", description="Installed by the deploy buildspec.")
    kustomize: Version = Field("5.4.1", title="kustomize version", description="Installed by the manifests buildspec.")
    helm: Version = Field("3.14.4", title="helm version", description="Installed by the manifests buildspec.")


class Org(_Strict):
    namespace: Slug = Field(title="Namespace", description="Prefix of every resource name, e.g. the organization's short name.")
    region: Region = Field(title="Region", description="Region of the Operations account resources.")
    accounts: Accounts
    terraform_role_name: RoleName = Field(
        "terraform-execution",
        title="Terraform role name",
        description="Role Terraform assumes in every account (Operations and Workloads).",
    )
    github_owner: GitHubOwner = Field(title="GitHub owner", description="Organization or user that owns the repositories.")
    artifact_bucket: BucketName = Field(title="Artifact bucket", description="S3 bucket for pipeline artifacts.")
    state_bucket: BucketName = Field(title="State bucket", description="S3 bucket that holds Terraform state for every root.")
    codestar_connection_name: ConnectionName = Field(
        title="CodeStar connection name", description="Name of the GitHub connection pipelines use."
    )
    github_token_parameter: SsmParameterName = Field(
        title="GitHub token parameter",
        description="Name of the SSM SecureString that holds the GitHub token for CodeBuild. Its value is never read by the runbook.",
    )
    module_versions: ModuleVersions = Field(default_factory=ModuleVersions)
    tools: Tools = Field(default_factory=Tools)
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, title="Tags", description="Tags on every resource that takes them.")


class ManifestsTool(str, Enum):
    kustomize = "kustomize"
    helm = "helm"
    plain = "plain"


class Deployment(_Strict):
    cluster: ClusterName = Field(title="EKS cluster", description="Name of the cluster to deploy to.")
    account: Slug = Field(title="Workload account", description="Name of a workload account in org.yaml that holds the cluster.")
    name: ActionName | None = Field(None, title="Action name", description="Deploy action name in the pipeline; defaults to the cluster name.")
    manifest_path: RelativePath | None = Field(
        None,
        title="Manifest path",
        description="File in the compiled manifests artifact to apply; defaults to <stage>/<cluster>.yaml.",
    )
    manifest_source: RelativePath | None = Field(
        None,
        title="Manifest source",
        description="Where the manifests tool reads from: a kustomize overlay, a helm values file or a plain directory.",
    )


    @field_validator("account")
    @classmethod
    def _account_declared(cls, account: str, info: ValidationInfo) -> str:
        org = (info.context or {}).get("org")
        if org is not None and account not in org.accounts.workloads:
            declared = ", ".join(org.accounts.workloads) or "none"
            raise ValueError(
                f"is not a workload account declared in {info.context.get('org_file', 'org.yaml')} (declared: {declared})"
            )
        return account

    @model_validator(mode="after")
    def _cluster_declared(self, info: ValidationInfo) -> "Deployment":
        org = (info.context or {}).get("org")
        account = org.accounts.workloads.get(self.account) if org is not None else None
        if account is not None and self.cluster not in {c.name for c in account.clusters}:
            declared = ", ".join(c.name for c in account.clusters)
            raise PydanticCustomError(
                "cluster_not_declared",
                "is not a cluster of workload account '{account}' in {org_file} (declared: {declared})",
                {"field": "cluster", "value": self.cluster, "account": self.account, "declared": declared,
                 "org_file": info.context.get("org_file", "org.yaml")},
            )
        return self


class Stage(_Strict):
    name: Slug = Field(title="Stage", description="Lifecycle stage, such as staging or production; one pipeline each.")
    branch: Branch = Field(title="Branch", description="Application branch whose merges deploy to this stage.")
    manifests_branch: Branch | None = Field(None, title="Manifests branch", description="Defaults to the stage's branch.")
    deploy_env_vars: dict[EnvVarName, str] = Field(default_factory=dict, title="Deploy environment")
    deployments: list[Deployment] = Field(min_length=1)


class App(_Strict):
    name: Slug = Field(title="Application name", description="Short name used in every resource name.")
    source_repository: GitHubRepository = Field(title="Application repository", description="owner/name on GitHub.")
    manifests_repository: GitHubRepository = Field(title="Manifests repository", description="owner/name on GitHub.")
    ecr_repository: EcrRepository = Field(title="ECR repository", description="Name of the image repository, e.g. acme/web.")
    manifests_tool: ManifestsTool = Field(title="Manifests tool", description="kustomize, helm or plain.")
    helm_chart: RelativePath = Field("chart", title="Helm chart", description="Chart directory in the manifests repository (helm only).")
    dockerfile: RelativePath = Field("Dockerfile", title="Dockerfile", description="Path of the Dockerfile in the application repository.")
    deploy_env_vars: dict[EnvVarName, str] = Field(
        default_factory=dict, title="Deploy environment", description="Extra environment for every deploy action."
    )
    stages: list[Stage] = Field(min_length=1)

    @field_validator("source_repository", "manifests_repository")
    @classmethod
    def _owned_by_org(cls, repository: str, info: ValidationInfo) -> str:
        org = (info.context or {}).get("org")
        if org is not None and repository.split("/", 1)[0].lower() != org.github_owner.lower():
            raise ValueError(
                f"is not owned by github_owner '{org.github_owner}' from {info.context.get('org_file', 'org.yaml')} "
                "(the CodeStar connection and CodeBuild credential reach that owner only)"
            )
        return repository
