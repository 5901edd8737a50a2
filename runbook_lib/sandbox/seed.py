"""Seed the sandbox with what the guide assumes already exists before the runbook starts.

- the Terraform role in the Operations account and every Workload account;
- the Terraform state bucket (Operations account, versioned);
- the SSM SecureString with the GitHub token (a random throwaway value);
- each EKS cluster declared in org.yaml, in its Workload account and region.

Seeding is idempotent: what exists is left alone.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from ..parameters.models import Org
from ..resolved import deploy_targets
from .clients import SandboxSessions

_TRUST_ANY_ACCOUNT_ROOT = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
})


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def sessions_for(org: Org, endpoint: str) -> SandboxSessions:
    return SandboxSessions(endpoint, org.region, org.terraform_role_name)


def seed(org: Org, endpoint: str) -> SeedReport:
    report = SeedReport()
    s = sessions_for(org, endpoint)
    ops = org.accounts.operations.id
    for name, account in [("operations", ops), *((n, a.id) for n, a in org.accounts.workloads.items())]:
        iam = s.client("iam", account)
        label = f"iam role {org.terraform_role_name} in {name} ({account})"
        try:
            iam.get_role(RoleName=org.terraform_role_name)
            report.existing.append(label)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(RoleName=org.terraform_role_name, AssumeRolePolicyDocument=_TRUST_ANY_ACCOUNT_ROOT,
                            Description="Sandbox: the role Terraform assumes")
            report.created.append(label)

    s3 = s.client("s3", ops)
    label = f"s3 bucket {org.state_bucket} (Terraform state)"
    if org.state_bucket in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        report.existing.append(label)
    else:
        if org.region == "us-east-1":
            s3.create_bucket(Bucket=org.state_bucket)
        else:
            s3.create_bucket(Bucket=org.state_bucket, CreateBucketConfiguration={"LocationConstraint": org.region})
        s3.put_bucket_versioning(Bucket=org.state_bucket, VersioningConfiguration={"Status": "Enabled"})
        report.created.append(label)

    ssm = s.client("ssm", ops)
    label = f"ssm parameter {org.github_token_parameter} (GitHub token, random throwaway value)"
    try:
        ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [org.github_token_parameter]}])["Parameters"][0]
        report.existing.append(label)
    except IndexError:
        ssm.put_parameter(Name=org.github_token_parameter, Type="SecureString",
                          Value=f"ghp_sandbox{secrets.token_hex(16)}", Description="Sandbox GitHub token (not real)")
        report.created.append(label)

    for target in deploy_targets(org):
        eks = s.client("eks", target.account_id, target.region)
        label = f"eks cluster {target.cluster} in {target.account_name} ({target.account_id}) {target.region}"
        if target.cluster in eks.list_clusters().get("clusters", []):
            report.existing.append(label)
            continue
        eks.create_cluster(
            name=target.cluster,
            roleArn=f"arn:aws:iam::{target.account_id}:role/{org.terraform_role_name}",
            resourcesVpcConfig={"subnetIds": []},
        )
        report.created.append(label)
    return report
