"""The sandbox target: providers and backend aimed at the emulator, nothing else.

Only ``providers.tf`` and ``backend.tf`` differ from the live rendering: module
sources are the live ones (thoughtbot's modules at pinned commits), so the sandbox
runs the code that ships. Offline, Terraform fetches them from a local mirror
(``RUNBOOK_TF_MODULE_MIRROR``, see ``terraform/binary.py``), without a changed line.
"""

from __future__ import annotations

from ..parameters.models import Org
from ..render.hcl import BLANK, Attr, Block, Item
from ..render.targets import LiveTarget, ProviderAccount, Target, backend_block, provider_block
from .clients import sandbox_env
from .keys import key_for
from .loopback import require_loopback
from .server import require_running

# Every AWS service the roots and the upstream modules they call reach (provider endpoint keys);
# a service missing here would be called on real AWS, not the sandbox (a test reads the modules).
SERVICES = ("codebuild", "codepipeline", "codestarconnections", "ecr", "eks", "iam", "kms", "logs", "s3", "ssm", "sts")


class SandboxTarget:
    name = Target.sandbox

    def __init__(self, endpoint: str | None = None, sandbox_dir: str | None = None):
        self.endpoint = require_loopback(endpoint or require_running(sandbox_dir).url)

    def module_source(self, repository: str, ref: str, module: str, root_path: str) -> tuple[str, str]:
        """The live source: the same upstream module at the same pinned commit."""
        return LiveTarget().module_source(repository, ref, module, root_path)

    def _endpoints(self) -> dict[str, str]:
        return {service: self.endpoint for service in SERVICES}

    def provider_blocks(self, org: Org, accounts: list[ProviderAccount]) -> list[Item]:
        extra: list[Item] = [
            Attr("skip_credentials_validation", True),
            Attr("skip_metadata_api_check", True),
            Attr("skip_region_validation", True),
            Attr("s3_use_path_style", True),
            BLANK,
            Block("endpoints", (), [Attr(service, url) for service, url in self._endpoints().items()]),
        ]
        return [provider_block(org, account, extra) for account in accounts]

    def backend_blocks(self, org: Org, key: str) -> list[Item]:
        return backend_block(org, key, [
            Attr("use_path_style", True),
            Attr("skip_credentials_validation", True),
            Attr("skip_metadata_api_check", True),
            Attr("skip_region_validation", True),
            Attr("skip_requesting_account_id", True),
            Attr("endpoints", {"s3": self.endpoint, "sts": self.endpoint, "iam": self.endpoint}),
        ])

    def terraform_env(self) -> dict[str, str]:
        return sandbox_env(key_for(self.endpoint))
