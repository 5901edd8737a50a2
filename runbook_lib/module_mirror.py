"""Build a module mirror: bare git repositories laid out as on GitHub, holding the pinned commits.

``runbook modules mirror DIR`` makes one, from GitHub (a machine with internet) or from
another mirror folder (``--from``), and checks that every commit the organization pins
is in it. Point ``RUNBOOK_TF_MODULE_MIRROR`` at DIR and Terraform fetches the modules
from there (see terraform/binary.py), with no change to a rendered source line.

A copied bare repository can lose its empty ``refs/`` folder (git keeps its refs in
``packed-refs``, and many copy tools drop empty folders); git then does not take it for
a repository at all. A mirror built here always has one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import catalog
from .errors import RunbookError
from .parameters.models import Org

GITHUB = "https://github.com/"
_REPOSITORIES = {"codestar_setup": catalog.CODESTAR_SETUP, "eks_cicd": catalog.EKS_CICD}   # ModuleVersions field


@dataclass(frozen=True)
class Pinned:
    path: str       # thoughtbot/terraform-eks-cicd.git, as on GitHub
    ref: str
    commit: str


def pinned(org: Org) -> list[Pinned]:
    """The module sources ``org`` renders, with their commits."""
    found = []
    for field, repository in _REPOSITORIES.items():
        src = catalog.source(repository, getattr(org.module_versions, field))
        found.append(Pinned(src.repository.removeprefix("github.com/") + ".git", src.ref, src.commit))
    return found


def _git(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG")}   # no insteadOf of anyone's
    return subprocess.run(["git", *args], capture_output=True, text=True, env=env, timeout=600)


def has_commit(repository: Path, commit: str) -> bool:
    return _git("--git-dir", str(repository), "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0


def _writable(folder: Path) -> None:
    for directory, _, _ in os.walk(folder):
        os.chmod(directory, 0o755)


def _fetch(source: str, path: str, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    local = Path(source).expanduser()
    if local.is_dir():
        origin = local / path
        shutil.copytree(origin, partial, symlinks=False, copy_function=shutil.copyfile)
        _writable(partial)
    else:
        cloned = _git("clone", "--quiet", "--mirror", f"{source.rstrip('/')}/{path}", str(partial))
        if cloned.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise RunbookError(f"git could not clone {source.rstrip('/')}/{path}: {cloned.stderr.strip()[-300:]}; "
                               "nothing was written to the mirror")
    for refs in ("refs/heads", "refs/tags"):
        (partial / refs).mkdir(parents=True, exist_ok=True)
    partial.rename(target)


def build(dest: Path, org: Org, source: str = GITHUB, sink: Callable[[str], None] = print) -> list[Pinned]:
    """Make ``dest`` a mirror holding every commit ``org`` pins; return the pins it could not find.

    A repository already in ``dest`` that git can read is kept as it is; one it cannot read
    (a copy without refs/) is given the missing folders.
    """
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise RunbookError(f"{dest} is a file, not a folder; choose another place for the module mirror")
    local = Path(source).expanduser()
    if not source.startswith(("https://", "http://", "ssh://", "git@")) and not local.is_dir():
        raise RunbookError(f"--from {source!r} is neither a folder nor a git URL; nothing was written")
    if local.is_dir() and local.resolve() == dest.resolve():
        raise RunbookError(f"--from and the mirror are the same folder ({dest}); choose another folder")
    for pin in pinned(org) if local.is_dir() else ():
        origin = local / pin.path
        if not (origin / "objects").is_dir() or not (origin / "HEAD").is_file():
            raise RunbookError(f"{origin} is not a bare git repository (it needs HEAD and objects/); "
                               "nothing was written")
    dest.mkdir(parents=True, exist_ok=True)
    with _locked(dest):
        return _build(dest, org, source, sink)


@contextlib.contextmanager
def _locked(dest: Path):
    """One build of a mirror at a time (parallel test workers, two terminals)."""
    import fcntl

    with open(dest / ".runbook-mirror.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build(dest: Path, org: Org, source: str, sink: Callable[[str], None]) -> list[Pinned]:
    missing = []
    for pin in pinned(org):
        target = dest / pin.path
        if target.is_dir():
            for refs in ("refs/heads", "refs/tags"):
                (target / refs).mkdir(parents=True, exist_ok=True)
            if has_commit(target, pin.commit):
                sink(f"  kept     {target}")
            else:   # an older copy: fetch it anew
                shutil.rmtree(target)
                _fetch(source, pin.path, target)
                sink(f"  renewed  {target} from {source}")
        else:
            _fetch(source, pin.path, target)
            sink(f"  fetched  {target} from {source}")
        if has_commit(target, pin.commit):
            sink(f"  ok       {pin.path} {pin.ref} = {pin.commit}")
        else:
            sink(f"  MISSING  {pin.path} {pin.ref} = {pin.commit}")
            missing.append(pin)
    return missing
