"""Finding the Terraform CLI and the environment every Terraform command runs in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import TerraformError

# A directory laid out as a provider filesystem mirror
# (registry.terraform.io/hashicorp/aws/<version>/<os_arch>/...). When set, Terraform
# installs providers from there instead of the registry: for machines without internet.
MIRROR_ENV = "RUNBOOK_TF_PROVIDER_MIRROR"
# Where providers downloaded once are kept for every root (Terraform's plugin cache).
PLUGIN_CACHE_ENV = "RUNBOOK_TF_PLUGIN_CACHE"
DEFAULT_PLUGIN_CACHE = Path.home() / ".cache" / "eks-cicd-runbooks" / "terraform-plugins"
# Go's garbage collector target for Terraform and the providers it starts (they
# inherit its environment). The AWS provider builds its whole schema on every
# start; at Go's default (100) collecting that heap costs about a quarter of a
# plan's CPU, on the other core. 400 cut a CI plan from 13-17 to 10-12 CPU-seconds
# for about 120 MB more peak memory per provider (benchmarks/README.md, GOGC).
# A GOGC the user set wins.
GO_GC_PERCENT = "400"


def find_terraform() -> str:
    path = os.environ.get("RUNBOOK_TERRAFORM") or shutil.which("terraform")
    if not path or not os.access(path, os.X_OK):
        raise TerraformError(
            "The Terraform CLI was not found on PATH (or at RUNBOOK_TERRAFORM). Install Terraform "
            ">= 1.10 from https://developer.hashicorp.com/terraform/install and try again."
        )
    return path


def cli_config_text(mirror: str | None, plugin_cache: str | None) -> str:
    lines = []
    if plugin_cache:
        lines.append(f'plugin_cache_dir = "{plugin_cache}"')
    if mirror:
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror}"',
            '    include = ["registry.terraform.io/hashicorp/*"]',
            "  }",
            "  direct {",
            '    exclude = ["registry.terraform.io/hashicorp/*"]',
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"


def terraform_env(config_dir: Path, *, plugin_cache: bool = True, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a Terraform command: a generated CLI config, no prompts, no colour."""
    mirror = os.environ.get(MIRROR_ENV) or None
    cache = None
    if plugin_cache:
        cache_dir = Path(os.environ.get(PLUGIN_CACHE_ENV) or DEFAULT_PLUGIN_CACHE)
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache = str(cache_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "terraform.rc"
    text = cli_config_text(mirror, cache)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    env = dict(os.environ)
    env.setdefault("GOGC", GO_GC_PERCENT)
    env.update({
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "NO_COLOR": "1",
        "CHECKPOINT_DISABLE": "1",
    })
    env.update(extra or {})
    return env
