"""The guide's three root modules, built as HCL trees.

``common``: artifact bucket, CodeBuild credential, CodeStar connection, and one
            deploy role per EKS cluster declared in org.yaml (in its Workload
            account, through a provider alias).
``ci``:     ECR repository, image build project, manifests project.
``cd``:     the deploy project and one pipeline per stage, whose deploy actions
            assume the clusters' deploy roles.
Each root is the same five files: versions, providers, backend, main, outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import catalog, naming
from ..parameters.models import Org
from ..resolved import CONNECTION_PROVIDER, ResolvedApp, connection_parameter, deploy_targets, workload_providers
from . import buildspecs
from .hcl import BLANK, Attr, Block, Comment, Expr, Item, dumps
from .targets import ProviderAccount

# use_lockfile (S3-native state locking) arrived in Terraform 1.10; the common
# modules need >= 1.6.2. The stricter of the two applies to every root.
REQUIRED_TERRAFORM = ">= 1.10.0"
# Module call names of the CI and CD roots (state addresses start with module.<name>).
IMAGE_PROJECT_MODULE = "image_project"
MANIFESTS_PROJECT_MODULE = "manifests_project"
DEPLOY_PROJECT_MODULE = "deploy_project"


@dataclass(frozen=True)
class RootModule:
    """A rendered root: its directory under the output folder and its files."""

    name: str          # "cicd-common", "ci/web", "cd/web"
    files: dict[str, str]

    @property
    def path(self) -> str:
        return f"infra/{self.name}"

    @property
    def state_key(self) -> str:
        return f"{self.name}/terraform.tfstate"

    @property
    def lock_key(self) -> str:
        """The state lock's object beside the state (the S3 backend's use_lockfile)."""
        return f"{self.state_key}.tflock"


def _versions() -> str:
    return dumps([Block("terraform", (), [
        Attr("required_version", REQUIRED_TERRAFORM),
        BLANK,
        Block("required_providers", (), [
            Attr("aws", {"source": "hashicorp/aws", "version": catalog.AWS_PROVIDER_VERSION}),
        ]),
    ])])


def _module(target, root: str, name: str, module: str, ref: str, inputs: list[Item]) -> Block:
    repository = catalog.MODULE_REPOSITORY[module]
    source, human = target.module_source(repository, ref, module, f"infra/{root}")
    return Block("module", (name,), [Comment(human), Attr("source", source), BLANK, *inputs])


def _outputs(pairs: list[tuple[str, str, Expr]]) -> str:
    return dumps([
        Block("output", (name,), [Attr("description", description), Attr("value", value)])
        for name, description, value in pairs
    ])


def _root(target, org: Org, name: str, main: list[Item], outputs: list[tuple[str, str, Expr]],
          accounts: list[ProviderAccount]) -> RootModule:
    key = f"{name}/terraform.tfstate"
    return RootModule(name, {
        "versions.tf": _versions(),
        "providers.tf": dumps(target.provider_blocks(org, accounts)),
        "backend.tf": dumps(target.backend_blocks(org, key)),
        "main.tf": dumps(main),
        "outputs.tf": _outputs(outputs),
    })


def _operations(org: Org) -> ProviderAccount:
    return ProviderAccount(None, org.accounts.operations.id, org.region)


def _tags(org: Org, app: str | None = None) -> Block:
    tags = dict(org.tags)
    if app:
        tags[naming.APPLICATION_TAG] = app
    return Block("locals", (), [Attr("tags", tags)])


def common_root(target, org: Org) -> RootModule:
    ref = org.module_versions.codestar_setup
    main: list[Item] = [
        _tags(org),
        _module(target, "cicd-common", "artifact_bucket", "artifact-bucket", ref, [
            Attr("name", org.artifact_bucket),
            Attr("tags", Expr("local.tags")),
        ]),
        _module(target, "cicd-common", "codebuild_credential", "codebuild-credential", ref, [
            Attr("provider_type", CONNECTION_PROVIDER),
            Attr("token_parameter", org.github_token_parameter),
        ]),
        _module(target, "cicd-common", "codestar_connection", "codestar-connection", ref, [
            Attr("name", org.codestar_connection_name),
            Attr("provider_type", CONNECTION_PROVIDER),
            Attr("tags", Expr("local.tags")),
        ]),
    ]
    # One deploy role per cluster, in the cluster's Workload account and region.
    # Roles are named <cluster>-deploy, so they are shared by every application
    # that deploys to the cluster: they belong here, not in an application's root.
    for dt in deploy_targets(org):
        main.append(_module(target, "cicd-common", dt.module_name, "deploy-role", org.module_versions.eks_cicd, [
            Attr("providers", {"aws": Expr(f"aws.{dt.provider_alias}")}),
            Attr("cluster_name", dt.cluster),
            Attr("deployment_account_ids", [org.accounts.operations.id]),
            Attr("tags", Expr("local.tags")),
        ]))
        main += _cluster_access(dt)
    outputs = [
        ("artifact_bucket_name", "S3 bucket for pipeline artifacts.", Expr("module.artifact_bucket.name")),
        ("artifact_bucket_arn", "ARN of the artifact bucket.", Expr("module.artifact_bucket.arn")),
        ("codebuild_credential_arn", "CodeBuild source credential for GitHub.", Expr("module.codebuild_credential.arn")),
        ("codestar_connection_arn", "The connection; complete its GitHub handshake in the console.", Expr("module.codestar_connection.arn")),
        ("codestar_connection_parameter", "SSM parameter holding the connection ARN.", Expr("module.codestar_connection.parameter")),
        ("deploy_role_arns", "Deploy role per cluster, in its Workload account.", {
            f"{dt.account_name}/{dt.cluster}": Expr(f"module.{dt.module_name}.arn") for dt in deploy_targets(org)
        }),
    ]
    accounts = [_operations(org)] + [
        ProviderAccount(alias, account_id, region) for alias, account_id, region in workload_providers(org)
    ]
    return _root(target, org, "cicd-common", main, outputs, accounts)


def _cluster_access(dt) -> list[Item]:
    """The deploy role's way into the cluster's Kubernetes API (access_entry), which the deploy-role module lacks."""
    if dt.access != "access_entry":
        return [Comment(f"{dt.cluster}: the deploy role's Kubernetes access is {dt.access} (granted outside this root; "
                        "see README, cluster access)")]
    scope: list[Item] = [Attr("type", "namespace"), Attr("namespaces", list(dt.namespaces))] if dt.namespaces \
        else [Attr("type", "cluster")]
    provider = Attr("provider", Expr(f"aws.{dt.provider_alias}"))
    return [
        Comment(f"{dt.cluster}: without an access entry, kubectl in the deploy build gets Unauthorized"),
        Block("resource", ("aws_eks_access_entry", dt.module_name), [
            provider, Attr("cluster_name", dt.cluster), Attr("principal_arn", Expr(f"module.{dt.module_name}.arn")),
            Attr("type", "STANDARD"), Attr("tags", Expr("local.tags")),
        ]),
        Block("resource", ("aws_eks_access_policy_association", dt.module_name), [
            provider, Attr("cluster_name", dt.cluster),
            Attr("principal_arn", Expr(f"aws_eks_access_entry.{dt.module_name}.principal_arn")),
            Attr("policy_arn", naming.eks_deploy_access_policy(dt.region)), Block("access_scope", (), scope),
        ]),
    ]


def ci_root(target, app: ResolvedApp) -> RootModule:
    org, ref = app.org, app.org.module_versions.eks_cicd
    workload_ids = [org.accounts.workloads[name].id for name in app.workload_accounts]
    connection = connection_parameter(org.codestar_connection_name)
    namespace = app.namespace
    main: list[Item] = [
        _tags(org, app.app.name),
        _module(target, f"ci/{app.app.name}", "ecr_repository", "ecr-repository", ref, [
            Attr("name", app.ecr_name),
            Attr("namespace", list(app.ecr_namespace)),
            Attr("workload_account_ids", workload_ids),
            Attr("tags", Expr("local.tags")),
        ]),
        _module(target, f"ci/{app.app.name}", IMAGE_PROJECT_MODULE, "ecr-project", ref, [
            Attr("name", app.image_project_module_name),
            Attr("namespace", namespace),
            Attr("github_repository", app.app.source_repository),
            Attr("buildspec", buildspecs.IMAGE_BUILDSPEC_PATH),
            Attr("ecr_repository", Expr("module.ecr_repository.name")),
            Attr("artifacts_bucket", org.artifact_bucket),
            Attr("codestar_connection", connection),
            Attr("tags", Expr("local.tags")),
            BLANK,
            # The module looks the repository up with a data source; without this it
            # would read it at plan time, before the repository exists.
            Attr("depends_on", [Expr("module.ecr_repository")]),
        ]),
        _module(target, f"ci/{app.app.name}", MANIFESTS_PROJECT_MODULE, "manifests-project", ref, [
            Attr("name", app.manifests_project_module_name),
            Attr("namespace", namespace),
            Attr("manifests_repository", app.app.manifests_repository),
            Attr("source_repository", app.app.source_repository),
            Attr("buildspec", buildspecs.MANIFESTS_BUILDSPEC_PATH),
            Attr("ecr_repository", Expr("module.ecr_repository.name")),
            Attr("artifacts_bucket", org.artifact_bucket),
            Attr("codestar_connection", connection),
            Attr("tags", Expr("local.tags")),
            BLANK,
            # The module looks the repository up with a data source; without this it
            # would read it at plan time, before the repository exists.
            Attr("depends_on", [Expr("module.ecr_repository")]),
        ]),
    ]
    outputs = [
        ("ecr_repository_name", "Images are pushed here, tagged by commit.", Expr("module.ecr_repository.name")),
        ("ecr_base_mirror_name", "Mirror for base images.", Expr("module.ecr_repository.base_mirror_name")),
        ("image_project_name", "CodeBuild project that builds and pushes the image.", Expr("module.image_project.name")),
        ("manifests_project_name", "CodeBuild project that renders the manifests.", Expr("module.manifests_project.name")),
    ]
    return _root(target, org, f"ci/{app.app.name}", main, outputs, [_operations(org)])


def cd_root(target, app: ResolvedApp) -> RootModule:
    org, ref = app.org, app.org.module_versions.eks_cicd
    connection = connection_parameter(org.codestar_connection_name)
    namespace = app.namespace
    main: list[Item] = [_tags(org, app.app.name)]
    main.append(_module(target, f"cd/{app.app.name}", DEPLOY_PROJECT_MODULE, "deploy-project", ref, [
        Attr("name", app.deploy_project_module_name),
        Attr("namespace", namespace),
        Attr("buildspec", Expr(f'file("${{path.module}}/{buildspecs.DEPLOY_BUILDSPEC_FILE}")')),
        Attr("cluster_names", app.cluster_names),
        Attr("artifacts_bucket", org.artifact_bucket),
        Attr("tags", Expr("local.tags")),
    ]))
    for stage in app.stages:
        deployments = {
            dep.action: {
                "cluster_name": dep.cluster,
                "region": dep.region,
                "role_arn": dep.target.role_arn,
                "manifest_path": dep.manifest_path,
            }
            for dep in stage.deployments
        }
        main.append(_module(target, f"cd/{app.app.name}", f"pipeline_{stage.name.replace('-', '_')}", "cicd-pipeline", ref, [
            Attr("name", stage.pipeline_module_name),
            Attr("namespace", namespace),
            Attr("source_repository_name", app.app.source_repository),
            Attr("source_repository_branch", stage.branch),
            Attr("manifests_repository_name", app.app.manifests_repository),
            Attr("manifests_repository_branch", stage.manifests_branch),
            Attr("ecr_project", app.image_project_name),
            Attr("manifests_project", app.manifests_project_name),
            Attr("deploy_project", app.deploy_project_name),
            Attr("deployments", deployments),
            Attr("deploy_env_vars", stage.deploy_env_vars),
            Attr("artifacts_bucket", org.artifact_bucket),
            Attr("codestar_connection", connection),
            Attr("tags", Expr("local.tags")),
            BLANK,
            Attr("depends_on", [Expr("module.deploy_project")]),
        ]))
    outputs = [
        ("deploy_project_name", "CodeBuild project that applies manifests.", app.deploy_project_name),
        ("pipeline_names", "One pipeline per stage.", {s.name: s.pipeline_name for s in app.stages}),
    ]
    root = _root(target, org, f"cd/{app.app.name}", main, outputs, [_operations(org)])
    root.files[buildspecs.DEPLOY_BUILDSPEC_FILE] = buildspecs.deploy_buildspec(app)
    return root
