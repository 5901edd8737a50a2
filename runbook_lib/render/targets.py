"""What differs between targets: providers and backend. Nothing else.

A root module is rendered once; the target only fills in ``providers.tf`` and
``backend.tf``. Module sources are the same upstream modules at the same pinned
commits on both targets, so the sandbox exercises the code that ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .. import catalog
from ..naming import iam_arn
from ..parameters.models import Org
from .hcl import BLANK, Attr, Block, Comment, Item

SESSION_NAME = "eks-cicd-runbooks"


class Target(str, Enum):
    live = "live"
    sandbox = "sandbox"


@dataclass(frozen=True)
class ProviderAccount:
    """One provider configuration: the default (Operations) or an alias (a Workload account)."""

    alias: str | None
    account_id: str
    region: str


def role_arn(account_id: str, role_name: str, region: str) -> str:
    return iam_arn(region, account_id, f"role/{role_name}")


class LiveTarget:
    """Real AWS: upstream modules at pinned commits, credentials from the usual chain."""

    name = Target.live

    def module_source(self, repository: str, ref: str, module: str, root_path: str) -> tuple[str, str]:
        src = catalog.source(repository, ref)
        return catalog.git_source(repository, ref, module), f"{repository} {ref} ({src.short})"

    def provider_blocks(self, org: Org, accounts: list[ProviderAccount]) -> list[Item]:
        return [provider_block(org, account) for account in accounts]

    def terraform_env(self) -> dict[str, str]:
        """Nothing to add: credentials come from the usual chain (profiles, SSO, environment)."""
        return {}

    def backend_blocks(self, org: Org, key: str) -> list[Item]:
        return backend_block(org, key)


def provider_block(org: Org, account: ProviderAccount, extra: list[Item] = ()) -> Block:
    """One ``provider "aws"`` block: alias, region, allowed account, ``extra``, then the role it assumes."""
    body: list[Item] = [Attr("alias", account.alias)] if account.alias else []
    body += [
        Attr("region", account.region),
        Attr("allowed_account_ids", [account.account_id]),
        *extra,
        BLANK,
        Block("assume_role", (), [
            Attr("role_arn", role_arn(account.account_id, org.terraform_role_name, account.region)),
            Attr("session_name", SESSION_NAME),
        ]),
    ]
    return Block("provider", ("aws",), body)


def backend_block(org: Org, key: str, extra: list[Item] = ()) -> list[Item]:
    """The S3 backend in the Operations account, one key per root, with S3-native locking."""
    return [Block("terraform", (), [Block("backend", ("s3",), [
        Attr("bucket", org.state_bucket),
        Attr("key", key),
        Attr("region", org.region),
        Attr("encrypt", True),
        Attr("use_lockfile", True),
        *extra,
        Attr("assume_role", {
            "role_arn": role_arn(org.accounts.operations.id, org.terraform_role_name, org.region),
            "session_name": SESSION_NAME,
        }),
    ])])]


def describe(target: Target) -> str:
    return {
        Target.live: "real AWS accounts, upstream modules pinned to commits",
        Target.sandbox: "the embedded AWS emulator on 127.0.0.1, upstream modules pinned to commits",
    }[target]


def header_comment(target: Target) -> Comment:
    return Comment(f"Target: {target.value} ({describe(target)}).")
