"""Whether ``terraform init`` in a root can be skipped: a stamp of what the last init saw and left.

After an init that succeeded, the runner writes a stamp into Terraform's data folder
(``.terraform/``, or the ``TF_DATA_DIR`` it uses): one digest of everything init reads
and everything it writes. The next init in that folder is skipped only when the digest
taken now is the same, so any of these runs init again:

- a changed ``*.tf`` or ``*.tf.json`` file (a module source or version, the backend,
  the required providers);
- a different init (with or without the backend), Terraform binary, CLI config
  (provider mirror, plugin cache) or module mirror;
- a changed, missing or foreign product of init: the lock file, the installed modules
  (``modules.json`` and every file under ``modules/``), the backend settings, the
  provider links; a ``.terraform`` copied from another root or version has a stamp
  that does not match the files here.

A folder without a stamp (first run, an init that failed or was interrupted) runs init.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

STAMP = "runbook-init.sha256"
LOCK_FILE = ".terraform.lock.hcl"
# What the environment gives init: the CLI config (its path here; its text is read), git's
# redirection of module sources to the mirror, and a plugin cache.
ENV_READ = ("TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_DIR")
ENV_PREFIX_READ = ("GIT_CONFIG_",)


def data_dir(workdir: Path, env: dict[str, str]) -> Path:
    folder = env.get("TF_DATA_DIR") or ".terraform"
    return Path(workdir) / folder   # Terraform reads a relative TF_DATA_DIR from the root's folder too


def _add_file(digest, path: Path, label: str) -> None:
    digest.update(f"\0{label}\0".encode())
    try:
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode())
        else:
            digest.update(path.read_bytes())
    except OSError:
        digest.update(b"(missing)")


def _add_tree(digest, folder: Path, label: str) -> None:
    """Every file and link under ``folder`` (links not followed), by relative path."""
    if not folder.is_dir():
        digest.update(f"\0{label}\0(missing)".encode())
        return
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(filenames) + sorted(d for d in dirnames if (here / d).is_symlink()):
            _add_file(digest, here / name, f"{label}/{(here / name).relative_to(folder)}")


def fingerprint(workdir: Path, env: dict[str, str], binary: str, args: list[str]) -> str:
    """One digest of what ``terraform init args`` reads in ``workdir`` and what it left there."""
    workdir = Path(workdir)
    data = data_dir(workdir, env)
    digest = hashlib.sha256()
    digest.update(" ".join(args).encode())
    binary_stat = os.stat(binary)
    digest.update(f"\0{os.path.realpath(binary)}\0{binary_stat.st_size}\0{binary_stat.st_mtime_ns}".encode())
    for name in sorted(env):
        if name in ENV_READ or name.startswith(ENV_PREFIX_READ):
            digest.update(f"\0env {name}={env[name]}".encode())
    if env.get("TF_CLI_CONFIG_FILE"):
        _add_file(digest, Path(env["TF_CLI_CONFIG_FILE"]), "cli config")
    for path in sorted(workdir.iterdir()):
        if path.name.endswith((".tf", ".tf.json")) and path.is_file():
            _add_file(digest, path, path.name)
    _add_file(digest, workdir / LOCK_FILE, LOCK_FILE)
    _add_file(digest, data / "terraform.tfstate", "backend")
    _add_tree(digest, data / "modules", "modules")
    _add_tree(digest, data / "providers", "providers")
    return digest.hexdigest()


def is_current(workdir: Path, env: dict[str, str], binary: str, args: list[str]) -> bool:
    stamp = data_dir(workdir, env) / STAMP
    try:
        return stamp.read_text().strip() == fingerprint(workdir, env, binary, args)
    except OSError:
        return False


def record(workdir: Path, env: dict[str, str], binary: str, args: list[str]) -> None:
    """After an init that succeeded: stamp what it saw and left."""
    data = data_dir(workdir, env)
    if data.is_dir():
        (data / STAMP).write_text(fingerprint(workdir, env, binary, args) + "\n")

