"""The three buildspecs the guide asks for, as CodeBuild buildspec version 0.2.

- image: in the application repository; builds the Docker image and pushes it
  to ECR, tagged with the commit it was built from.
- manifests: in the manifests repository; renders one Kubernetes YAML file per
  stage and deployment into the ``compiled_manifests`` artifact.
- deploy: passed inline to the deploy project; assumes the deploy role of the
  target cluster and applies that file with kubectl.
"""

from __future__ import annotations

import yaml

from ..parameters.models import ManifestsTool
from ..resolved import ResolvedApp

# Where the image and manifests buildspecs live inside their repositories; the
# CI root passes these paths to the projects' ``buildspec`` input.
IMAGE_BUILDSPEC_PATH = "codebuild/image-build.yml"
MANIFESTS_BUILDSPEC_PATH = "codebuild/manifests.yml"
DEPLOY_BUILDSPEC_FILE = "buildspec-deploy.yml"
COMPILED_DIR = "compiled"

_REGISTRY = "${AWS_ACCOUNT_ID}.dkr.ecr.${AWS_REGION}.amazonaws.com"


class _Literal(str):
    """A multi-line command, written as a YAML block scalar."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|"))


def _dump(spec: dict) -> str:
    return yaml.dump(spec, Dumper=_Dumper, sort_keys=False, width=4096, default_flow_style=False)


def image_buildspec(app: ResolvedApp) -> str:
    push = _Literal(
        'if aws ecr describe-images --repository-name "$ECR_REPOSITORY_NAME" '
        '--image-ids imageTag="$IMAGE_TAG" > /dev/null 2>&1; then\n'
        '  echo "$ECR_REPOSITORY_NAME:$IMAGE_TAG exists already and tags are immutable; nothing to push."\n'
        "else\n"
        '  docker build --file "$DOCKERFILE" --tag "$IMAGE" .\n'
        '  docker push "$IMAGE"\n'
        "fi\n"
    )
    spec = {
        "version": 0.2,
        "env": {"shell": "bash", "variables": {"DOCKERFILE": app.app.dockerfile}},
        "phases": {
            "pre_build": {
                "commands": [
                    f'REGISTRY="{_REGISTRY}"',
                    'IMAGE_TAG="$CODEBUILD_RESOLVED_SOURCE_VERSION"',
                    'IMAGE="$REGISTRY/$ECR_REPOSITORY_NAME:$IMAGE_TAG"',
                    'aws ecr get-login-password --region "$AWS_REGION" '
                    '| docker login --username AWS --password-stdin "$REGISTRY"',
                ]
            },
            "build": {"commands": [push]},
        },
    }
    return _dump(spec)


def _install_commands(app: ResolvedApp) -> tuple[dict, list[str]]:
    tools = app.org.tools
    if app.app.manifests_tool is ManifestsTool.kustomize:
        return {"KUSTOMIZE_VERSION": tools.kustomize}, [
            'curl -fsSL "https://github.com/kubernetes-sigs/kustomize/releases/download/'
            'kustomize%2Fv${KUSTOMIZE_VERSION}/kustomize_v${KUSTOMIZE_VERSION}_linux_amd64.tar.gz" '
            "| tar -xz -C /usr/local/bin kustomize",
        ]
    if app.app.manifests_tool is ManifestsTool.helm:
        return {"HELM_VERSION": tools.helm}, [
            'curl -fsSL "https://get.helm.sh/helm-v${HELM_VERSION}-linux-amd64.tar.gz" '
            "| tar -xz -C /usr/local/bin --strip-components 1 linux-amd64/helm",
        ]
    return {}, []


def _render_command(app: ResolvedApp, source: str, target: str) -> str:
    tool = app.app.manifests_tool
    if tool is ManifestsTool.kustomize:
        return _Literal(
            f'(cd "{source}" && kustomize edit set image "$ECR_REPOSITORY_NAME=$IMAGE")\n'
            f'kustomize build "{source}" > "{target}"\n'
        )
    if tool is ManifestsTool.helm:
        return (
            f'helm template "{app.app.name}" "{app.app.helm_chart}" --values "{source}" '
            '--set image.repository="$REGISTRY/$ECR_REPOSITORY_NAME" --set image.tag="$IMAGE_TAG" '
            f'> "{target}"'
        )
    return _Literal(
        f'for file in "{source}"/*.yaml; do echo "---"; sed "s|__IMAGE__|$IMAGE|g" "$file"; done '
        f'> "{target}"\n'
    )


def manifests_buildspec(app: ResolvedApp) -> str:
    variables, install = _install_commands(app)
    build: list[str] = []
    for stage in app.stages:
        for dep in stage.deployments:
            target = f"{COMPILED_DIR}/{dep.manifest_path}"
            build.append(f'mkdir -p "$(dirname "{target}")"')
            build.append(_render_command(app, dep.manifest_source, target))
    phases: dict = {}
    if install:
        phases["install"] = {"commands": install}
    phases["pre_build"] = {
        "commands": [
            f'REGISTRY="{_REGISTRY}"',
            'IMAGE_TAG="$(git -C "$CODEBUILD_SRC_DIR_source" rev-parse HEAD)"',
            'IMAGE="$REGISTRY/$ECR_REPOSITORY_NAME:$IMAGE_TAG"',
        ]
    }
    phases["build"] = {"commands": build}
    spec: dict = {"version": 0.2, "env": {"shell": "bash"}}
    if variables:
        spec["env"]["variables"] = variables
    spec["phases"] = phases
    spec["artifacts"] = {"base-directory": COMPILED_DIR, "files": ["**/*"]}
    return _dump(spec)


def deploy_buildspec(app: ResolvedApp) -> str:
    spec = {
        "version": 0.2,
        "env": {"shell": "bash", "variables": {"KUBECTL_VERSION": app.org.tools.kubectl}},
        "phases": {
            "install": {
                "commands": [
                    'curl -fsSLo /usr/local/bin/kubectl "https://dl.k8s.io/release/v${KUBECTL_VERSION}/bin/linux/amd64/kubectl"',
                    # the checksum Kubernetes publishes beside each release binary: a download cut short or
                    # altered on the way fails here, before the binary runs
                    'curl -fsSLo /tmp/kubectl.sha256 "https://dl.k8s.io/release/v${KUBECTL_VERSION}/bin/linux/amd64/kubectl.sha256"',
                    'echo "$(cat /tmp/kubectl.sha256)  /usr/local/bin/kubectl" | sha256sum --check --strict',
                    "chmod +x /usr/local/bin/kubectl",
                ]
            },
            "pre_build": {
                "commands": [
                    # its own command, so that a refused AssumeRole fails the phase here, with AWS's message
                    'CREDENTIALS="$(aws sts assume-role --role-arn "$DEPLOY_ROLE_ARN" '
                    '--role-session-name "deploy-$CODEBUILD_BUILD_NUMBER" '
                    "--query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)\"",
                    'read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN <<< "$CREDENTIALS" '
                    "&& export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN",
                    'aws eks update-kubeconfig --name "$EKS_CLUSTER_NAME" --region "$EKS_CLUSTER_REGION"',
                ]
            },
            "build": {"commands": ['kubectl apply -f "$MANIFEST_PATH"']},
        },
    }
    return _dump(spec)
