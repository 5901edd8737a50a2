"""AWS, GitHub and Terraform naming rules, each written once.

Every rule is a :class:`Rule`: a test and the sentence a user reads when a value
breaks it. The parameter models and the cross-field checks both use these, so a
limit never appears as a literal in two places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Rule:
    describe: str
    test: Callable[[str], bool]

    def check(self, value: str) -> str | None:
        """Return the rule text when ``value`` breaks the rule, else None."""
        return None if self.test(value) else self.describe


def _pattern(regex: str, describe: str, max_len: int | None = None,
             min_len: int = 1) -> Rule:
    compiled = re.compile(regex)

    def test(value: str) -> bool:
        if not (min_len <= len(value) <= (max_len or len(value))):
            return False
        return compiled.fullmatch(value) is not None

    return Rule(describe, test)


# Limits that other code reads by name.
IAM_ROLE_NAME_MAX = 64
DEPLOY_ROLE_SUFFIX = "-deploy"          # the deploy-role module names roles <cluster>-deploy
PIPELINE_ROLE_SUFFIX = "-pipeline"      # cicd-pipeline names its role <pipeline>-pipeline
ECR_POLICY_SUFFIX = "-ecr"              # ecr-project's managed policy <project>-ecr
ECR_BASE_MIRROR_SUFFIX = "-base"        # ecr-repository's base image mirror
IAM_POLICY_NAME_MAX = 128
# The EKS access policy a deploy role gets: change workloads, no RBAC or cluster settings (eks_deploy_access_policy).
EKS_DEPLOY_ACCESS_POLICY_NAME = "AmazonEKSEditPolicy"
TAGS_PER_RESOURCE_MAX = 50              # AWS: at most 50 user tags on one resource
# Tag keys the runbook sets itself: render/roots.py tags every resource of an
# application's roots with application = <app name>. The parameter rules refuse
# org tags with these keys and count them in TAGS_PER_RESOURCE_MAX.
APPLICATION_TAG = "application"
RUNBOOK_TAG_KEYS = (APPLICATION_TAG,)

ACCOUNT_ID = _pattern(r"[0-9]{12}", "is not an AWS account id (exactly 12 digits, quoted in YAML)")

REGION = _pattern(
    r"(us|eu|ap|sa|ca|me|af|il|mx)(-gov)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-[1-9]",
    "is not an AWS region name (like us-east-1 or eu-west-2)",
)


def _bucket_test(value: str) -> bool:
    if not 3 <= len(value) <= 63:
        return False
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", value):
        return False
    if ".." in value or ".-" in value or "-." in value:
        return False
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        return False
    if value.startswith(("xn--", "sthree-", "amzn-s3-demo-")):
        return False
    return not value.endswith(("-s3alias", "--ol-s3", "--x-s3", ".mrap"))


S3_BUCKET = Rule(
    "is not a valid S3 bucket name (3-63 characters: lowercase letters, digits, dots and "
    "hyphens; starts and ends with a letter or digit; no '..', no IP address form, no reserved "
    "prefix or suffix)",
    _bucket_test,
)

# The name part may not be only dots: GitHub refuses '.' and '..', and the
# buildspecs are written under repositories/<owner>/<name>/, where they would
# land outside the owner's folder.
GITHUB_REPOSITORY = _pattern(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.+$)[A-Za-z0-9._-]{1,100}",
    "is not a GitHub repository in the form owner/name (the name: 1-100 ASCII letters, digits and "
    "'-_.', not only dots)",
)

GITHUB_OWNER = _pattern(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})",
    "is not a GitHub user or organization name (letters, digits and hyphens, at most 39)",
)

ECR_REPOSITORY = _pattern(
    r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*",
    "is not a valid ECR repository name (lowercase path segments of letters and digits "
    "separated by '.', '_', '-' or '/', 2-256 characters including the '-base' mirror suffix)",
    max_len=256 - len(ECR_BASE_MIRROR_SUFFIX),
    min_len=2,
)

CODEBUILD_PROJECT = _pattern(
    r"[A-Za-z0-9][A-Za-z0-9_-]*",
    "is not a valid CodeBuild project name (2-150 characters: letters, digits, '-' and '_', "
    "starting with a letter or digit)",
    max_len=150,
    min_len=2,
)

PIPELINE_NAME = _pattern(
    r"[A-Za-z0-9.@_-]+",
    "is not a valid CodePipeline name (letters, digits, '.', '@', '-', '_'; at most 100)",
    max_len=100,
)

ACTION_NAME = _pattern(
    r"[A-Za-z0-9.@_-]+",
    "is not a valid CodePipeline action name (letters, digits, '.', '@', '-', '_'; at most 100)",
    max_len=100,
)

EKS_CLUSTER = _pattern(
    r"[0-9A-Za-z][A-Za-z0-9_-]*",
    "is not a valid EKS cluster name (ASCII letters, digits, '-' and '_', starting with a letter or digit)",
    max_len=100,
)

IAM_ROLE_NAME = _pattern(
    r"[A-Za-z0-9+=,.@_-]+",
    f"is not a valid IAM role name (ASCII letters, digits and '+=,.@_-', at most {IAM_ROLE_NAME_MAX})",
    max_len=IAM_ROLE_NAME_MAX,
)

# Names that become Terraform identifiers (module block names, provider aliases)
# and path segments: lowercase, start with a letter.
SLUG = _pattern(
    r"[a-z][a-z0-9-]*",
    "is not a valid name here (lowercase ASCII letters, digits and '-', starting with a letter; at most 40)",
    max_len=40,
)

KUBERNETES_NAMESPACE = _pattern(
    r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
    "is not a Kubernetes namespace (lowercase letters, digits and '-', 1-63, starting and ending alphanumeric)",
)
SSM_PARAMETER_NAME = _pattern(
    r"/[A-Za-z0-9_.\-/]+",
    "is not a fully qualified SSM parameter name (starts with '/', then letters, digits and "
    "'_.-/'; at most 1011 characters)",
    max_len=1011,
)

CODESTAR_CONNECTION_NAME = _pattern(
    r"[A-Za-z0-9_.@+:-]+",
    "is not a valid CodeStar connection name (1-32 characters: letters, digits and '_.@+:-')",
    max_len=32,
)

GIT_BRANCH = _pattern(
    r"(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[^\s~^:?*\[\\]+(?<!/)(?<!\.lock)(?<!\.)",
    "is not a valid git branch name",
    max_len=255,
)

ENV_VAR_NAME = _pattern(
    r"[A-Za-z_][A-Za-z0-9_]*",
    "is not a valid environment variable name (letters, digits and '_', not starting with a digit)",
)

RELATIVE_PATH = _pattern(
    r"(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_./-]+",
    "is not a relative path inside the repository (letters, digits and '_./-'; no leading '/', no '..')",
    max_len=1024,
)

TAG_KEY = _pattern(
    r"(?![aA][wW][sS]:)[\w .:/=+@-]+",
    "is not a valid AWS tag key (1-128 characters: letters, digits, spaces and '_.:/=+-@'; "
    "the 'aws:' prefix is reserved)",
    max_len=128,
)

TAG_VALUE = _pattern(
    r"[\w .:/=+@-]*",
    "is not a valid AWS tag value (at most 256 characters: letters, digits, spaces and '_.:/=+-@')",
    max_len=256,
    min_len=0,
)

SEMVER = _pattern(r"[0-9]+\.[0-9]+\.[0-9]+", "is not a version in the form X.Y.Z")


PROJECT_SUFFIXES = ("image", "manifests", "deploy")


def deploy_role_name(cluster: str) -> str:
    """The role the deploy-role module creates for a cluster, in the cluster's account."""
    return f"{cluster}{DEPLOY_ROLE_SUFFIX}"


def deploy_role_module_name(account: str, cluster: str) -> str:
    """The common root's module block for a cluster's deploy role.

    Terraform identifiers are written with '_' and in lowercase here, so names
    that differ only in '-' against '_' or in case give the same module name;
    the parameter rules refuse two clusters that would.
    """
    return f"deploy_role_{account}_{cluster}".replace("-", "_").lower()


# Control characters: C0 (tab, line feed, carriage return, escape...), DEL, C1,
# and the Unicode line and paragraph separators. No parameter value needs one, and
# each would break, or change the meaning of, the HCL and YAML written from it.
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def control_character(text: str) -> tuple[int, str] | None:
    """The position and the first control character in ``text``, or None."""
    found = _CONTROL_CHARACTER.search(text)
    return (found.start(), found.group()) if found else None


def default_manifest_path(stage: str, cluster: str) -> str:
    return f"{stage}/{cluster}.yaml"


def codebuild_name(namespace: list[str], name: str) -> str:
    """The name codebuild-project, deploy-project and cicd-pipeline give: namespace + name, de-duplicated."""
    parts: list[str] = []
    for part in [*namespace, name]:
        if part not in parts:
            parts.append(part)
    return "-".join(parts)


# -- ARNs: the partition comes from the region (GovCloud and China are partitions of their own) --
def partition(region: str) -> str:
    """The AWS partition of ``region``: aws-us-gov for us-gov-*, aws-cn for cn-*, else aws."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def iam_arn(region: str, account_id: str, resource: str) -> str:
    """An IAM ARN (IAM is global within a partition): ``resource`` is role/NAME, policy/NAME or root."""
    return f"arn:{partition(region)}:iam::{account_id}:{resource}"


def eks_deploy_access_policy(region: str) -> str:
    """The ARN of the EKS access policy a deploy role is associated with, in ``region``'s partition."""
    return f"arn:{partition(region)}:eks::aws:cluster-access-policy/{EKS_DEPLOY_ACCESS_POLICY_NAME}"
