"""The sandbox target: providers and backend aimed at the emulator, sandbox module sources.

Only ``providers.tf``, ``backend.tf`` and module ``source`` lines differ from
the live rendering. The sandbox modules are copied next to the roots
(``OUT/sandbox-modules/``) so the rendered tree is self-contained.
"""

from __future__ import annotations

from importlib import resources
from pathlib import PurePosixPath

from .. import catalog
from ..parameters.models import Org
from ..render.files import with_header
from ..render.hcl import BLANK, Attr, Block, Item
from ..render.targets import ProviderAccount, Target, backend_block, provider_block
from .clients import sandbox_env
from .loopback import require_loopback
from .server import require_running

MODULES_DIR = "sandbox-modules"
# Every AWS service the roots and sandbox modules call.
SERVICES = ("codebuild", "codepipeline", "ecr", "eks", "iam", "kms", "logs", "s3", "ssm", "sts")


class SandboxTarget:
    name = Target.sandbox

    def __init__(self, endpoint: str | None = None, sandbox_dir: str | None = None):
        self.endpoint = require_loopback(endpoint or require_running(sandbox_dir).url)

    def module_source(self, repository: str, ref: str, module: str, root_path: str) -> tuple[str, str]:
        depth = len(PurePosixPath(root_path).parts)
        source = "/".join([".."] * depth + [MODULES_DIR, module])
        src = catalog.source(repository, ref)
        return source, (
            f"sandbox stand-in for {repository} {ref} ({src.short}), same variables and outputs"
        )

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

    def extra_files(self) -> dict[str, str]:
        """The sandbox modules, copied beside the roots with the generated-by header."""
        files: dict[str, str] = {}
        base = resources.files("runbook_lib").joinpath("sandbox/modules")
        for module in sorted(p.name for p in base.iterdir() if p.is_dir()):
            for tf in sorted(p.name for p in base.joinpath(module).iterdir() if p.name.endswith(".tf")):
                files[f"{MODULES_DIR}/{module}/{tf}"] = with_header(base.joinpath(module, tf).read_text())
        return files

    def terraform_env(self) -> dict[str, str]:
        return sandbox_env()
