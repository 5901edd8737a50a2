"""Finding the Terraform CLI and the environment every Terraform command runs in."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import TerraformError

# A directory laid out as a provider filesystem mirror
# (registry.terraform.io/hashicorp/aws/<version>/<os_arch>/...). When set, Terraform
# installs providers from there instead of the registry: for machines without internet.
MIRROR_ENV = "RUNBOOK_TF_PROVIDER_MIRROR"
# A folder of bare git repositories laid out as on GitHub (thoughtbot/terraform-eks-cicd.git, ...).
# When set, every Terraform command gets git's url.<folder>/.insteadOf https://github.com/
# (through GIT_CONFIG_COUNT/KEY/VALUE), so the rendered git:: module sources are cloned
# from there, without a changed line: for machines without internet.
MODULE_MIRROR_ENV = "RUNBOOK_TF_MODULE_MIRROR"
GITHUB_PREFIX = "https://github.com/"
# Where machines without internet usually carry that mirror. Only `runbook lab` and the
# Makefile fill the variable in from it; an error that needs a mirror points at it.
DEFAULT_PROVIDER_MIRROR = Path("/opt/tf-plugins")
# Where providers downloaded once are kept for every root (Terraform's plugin cache).
# Used only when no mirror is configured (see plugin_cache_dir).
PLUGIN_CACHE_ENV = "RUNBOOK_TF_PLUGIN_CACHE"
DEFAULT_PLUGIN_CACHE = Path.home() / ".cache" / "eks-cicd-runbooks" / "terraform-plugins"
# Terraform's own variable for the plugin cache; it wins over the CLI config. We set it
# to the cache in use or remove it, so the environment says which cache Terraform uses.
TF_PLUGIN_CACHE_VAR = "TF_PLUGIN_CACHE_DIR"
# The file inside the cache that every `terraform init` using the cache holds a lock on.
PLUGIN_CACHE_LOCK = ".runbook-init.lock"
# Go's garbage collector target for Terraform and the providers it starts (they
# inherit its environment). The AWS provider builds its whole schema on every
# start; at Go's default (100) collecting that heap costs about a quarter of a
# plan's CPU, on the other core. 400 cut a CI plan from 13-17 to 10-12 CPU-seconds
# for about 120 MB more peak memory per provider (benchmarks/README.md, GOGC).
# A GOGC the user set wins.
GO_GC_PERCENT = "400"
# Terraform's and the providers' debug logging: TF_LOG, TF_LOG_CORE, TF_LOG_PROVIDER,
# TF_LOG_PROVIDER_<NAME>, TF_LOG_SDK*, TF_LOG_PATH. At DEBUG and TRACE the log holds
# request and response bodies, secret values included (an SSM parameter read in a plan
# shows up in full), and it streams to the console and to TF_LOG_PATH. No variable with
# this prefix is passed on from the environment the runbook was started in.
DEBUG_LOG_PREFIX = "TF_LOG"
# The one way to turn the debug log on: RUNBOOK_TF_LOG=<level> passes TF_LOG=<level>.
# The log then goes to Terraform's stderr only (never TF_LOG_PATH), where the runner
# masks the secrets it knows (see redact.py) before any line is shown or kept.
DEBUG_LOG_ENV = "RUNBOOK_TF_LOG"
# Terraform's levels, except JSON: its log lines escape quotes, which the masks do not read.
DEBUG_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


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


def plugin_cache_dir(mirror: str | None, *, plugin_cache: bool = True) -> Path | None:
    """The shared plugin cache Terraform should use, or None for no cache at all.

    With a filesystem mirror there is none: Terraform links the provider straight
    from the mirror, so a cache saves nothing and would only be one more directory
    that parallel `terraform init` runs write at once (Terraform says that is unsafe).
    """
    if mirror or not plugin_cache:
        return None
    return Path(os.environ.get(PLUGIN_CACHE_ENV) or DEFAULT_PLUGIN_CACHE)


def plugin_cache_in_use(env: dict[str, str]) -> Path | None:
    """The plugin cache a Terraform environment from ``terraform_env`` uses, or None."""
    value = env.get(TF_PLUGIN_CACHE_VAR)
    return Path(value) if value else None


def _cache_problem(path: Path, reason: str) -> TerraformError:
    return TerraformError(
        f"the Terraform plugin cache {path} cannot be used: {reason}. Point "
        f"{PLUGIN_CACHE_ENV} at a writable directory, or set {MIRROR_ENV} to a provider "
        "mirror (then no cache is used)."
    )


@contextmanager
def plugin_cache_lock(cache_dir: Path | None, *, on_wait: Callable[[Path], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the plugin cache for as long as the block runs.

    Terraform writes its plugin cache only during `terraform init`, and documents
    the cache as not safe for several inits at once. Every init that uses the
    cache runs inside this lock, so parallel jobs and separate runbook processes
    take turns. ``flock`` is released by the kernel if the holder dies. No cache:
    nothing to lock. ``on_wait`` is called once if another process holds the lock.
    """
    if cache_dir is None:
        yield
        return
    import fcntl  # POSIX only: imported here so this module still imports on Windows

    lock_path = Path(cache_dir) / PLUGIN_CACHE_LOCK
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _cache_problem(Path(cache_dir), f"cannot open {lock_path} ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait(lock_path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


def _mirror_problem(value: str, reason: str) -> TerraformError:
    return TerraformError(
        f"{MODULE_MIRROR_ENV}={value!r} cannot be used: {reason}. It must name a folder of bare git repositories "
        "laid out as on GitHub (for example thoughtbot/terraform-eks-cicd.git), holding the pinned commits; "
        f"unset it to fetch modules from GitHub. Nothing was run.")


def module_mirror() -> Path | None:
    """The module mirror folder named by RUNBOOK_TF_MODULE_MIRROR, checked; None when unset or empty."""
    value = os.environ.get(MODULE_MIRROR_ENV, "")
    if not value.strip():
        return None
    path = Path(value).expanduser()
    if not path.exists():
        raise _mirror_problem(value, "it does not exist")
    if not path.is_dir():
        raise _mirror_problem(value, "it is a file, not a folder")
    return path.resolve()


def module_mirror_env(mirror: Path | None, base: dict[str, str]) -> dict[str, str]:
    """git's insteadOf for the mirror, added after any GIT_CONFIG_* entries ``base`` already has."""
    if mirror is None:
        return {}
    try:
        count = int(base.get("GIT_CONFIG_COUNT") or 0)
    except ValueError:
        count = 0
    return {
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": f"url.{mirror}/.insteadOf",
        f"GIT_CONFIG_VALUE_{count}": GITHUB_PREFIX,
    }


def debug_log_level() -> str | None:
    """The TF_LOG level asked for with RUNBOOK_TF_LOG, or None when it is unset or empty."""
    level = os.environ.get(DEBUG_LOG_ENV, "").strip().upper()
    if not level:
        return None
    if level not in DEBUG_LOG_LEVELS:
        raise TerraformError(f"{DEBUG_LOG_ENV}={os.environ[DEBUG_LOG_ENV]!r} is not a Terraform log level "
                             f"(choose one of: {', '.join(DEBUG_LOG_LEVELS)}); nothing was run.")
    return level


def terraform_env(config_dir: Path, *, plugin_cache: bool = True, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a Terraform command: a generated CLI config, no prompts, no colour.

    The caller's environment is passed on except Terraform's debug-log variables (see
    DEBUG_LOG_PREFIX), which would put secret values on the console and in a log file.
    The debug log is on only when asked for with RUNBOOK_TF_LOG (see debug_log_level).
    """
    mirror = os.environ.get(MIRROR_ENV) or None
    modules = module_mirror()
    cache = plugin_cache_dir(mirror, plugin_cache=plugin_cache)
    if cache is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise _cache_problem(cache, "it exists and is not a directory") from None
        except OSError as exc:
            raise _cache_problem(cache, f"it cannot be created ({exc.strerror or exc})") from None
    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "terraform.rc"
    text = cli_config_text(mirror, str(cache) if cache else None)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    env = {name: value for name, value in os.environ.items() if not name.startswith(DEBUG_LOG_PREFIX)}
    env.pop(TF_PLUGIN_CACHE_VAR, None)  # only the cache chosen above, never one inherited
    if cache is not None:
        env[TF_PLUGIN_CACHE_VAR] = str(cache)
    level = debug_log_level()
    if level:
        env["TF_LOG"] = level
    env.setdefault("GOGC", GO_GC_PERCENT)
    env.update(module_mirror_env(modules, env))
    env.update({
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "NO_COLOR": "1",
        "CHECKPOINT_DISABLE": "1",
    })
    env.update(extra or {})
    return env
