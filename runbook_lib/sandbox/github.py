"""The sandbox's GitHub: real git repositories on disk, pull requests as branches, events as AWS would get them.

Each repository is a bare git repository under ``<sandbox>/github/<owner>/<name>.git``.
A pull request is a branch with a commit on it and a number kept beside the repository
(``pulls.json``); a merge is a real merge commit on the base branch. The events a
webhook or a CodeStar connection would deliver are plain dicts (``PullRequestEvent``,
``PushEvent``); the emulator evaluates them against the webhooks it holds.

Nothing here reaches the network: git runs with no system or user configuration,
and every path stays inside the sandbox's folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import SandboxError

FOLDER = "github"
REPOSITORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
BRANCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,199}")
DEFAULT_BRANCH = "main"
AUTHOR = ("sandbox developer", "developer@sandbox.invalid")
PULLS_FILE = "pulls.json"


@dataclass(frozen=True)
class PullRequestEvent:
    """What GitHub sends CodeBuild for a pull request (the fields CodeBuild's filters read)."""

    repository: str
    event: str            # PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED, PULL_REQUEST_MERGED
    number: int
    head_ref: str         # refs/heads/<branch>
    base_ref: str
    head_sha: str
    actor: str = "sandbox-developer"

    def as_json(self) -> dict:
        return {"kind": "pull_request", **asdict(self)}


@dataclass(frozen=True)
class PushEvent:
    repository: str
    ref: str
    head_sha: str
    actor: str = "sandbox-developer"
    event: str = "PUSH"

    def as_json(self) -> dict:
        return {"kind": "push", **asdict(self)}


def event_from_json(data: dict) -> PullRequestEvent | PushEvent:
    kind = data.get("kind")
    fields = {key: value for key, value in data.items() if key != "kind"}
    try:
        return PullRequestEvent(**fields) if kind == "pull_request" else PushEvent(**fields)
    except TypeError as exc:
        raise SandboxError(f"not a repository event: {exc}") from None


def _git_env(home: Path) -> dict[str, str]:
    """git with no system or user configuration, no prompts, no proxy and a fixed author."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GIT_")}
    env.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": AUTHOR[0], "GIT_AUTHOR_EMAIL": AUTHOR[1],
                "GIT_COMMITTER_NAME": AUTHOR[0], "GIT_COMMITTER_EMAIL": AUTHOR[1]})
    return env


def git(args: list[str], cwd: Path, *, check: bool = True) -> str:
    """Run git in ``cwd``; a failure raises SandboxError with git's own message."""
    done = subprocess.run(["git", *args], cwd=cwd, env=_git_env(cwd), capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise SandboxError(f"git {' '.join(args[:2])} failed in {cwd}: {(done.stderr or done.stdout).strip()[-500:]}")
    return done.stdout.strip()


def repository_path(sandbox: Path, full_name: str) -> Path:
    """The bare repository of ``owner/name`` (checked: no path can leave the sandbox's folder)."""
    if not REPOSITORY_NAME.fullmatch(full_name) or ".." in full_name:
        raise SandboxError(f"repository {full_name!r}: expected owner/name (letters, digits, '-', '_', '.')")
    return Path(sandbox) / FOLDER / f"{full_name}.git"


def repository_of(location: str) -> str | None:
    """``owner/name`` of a CodeBuild GitHub source location (https://github.com/owner/name[.git])."""
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?", location or "")
    return match.group(1) if match else None


def _check_branch(branch: str) -> str:
    if not BRANCH_NAME.fullmatch(branch) or ".." in branch or branch.endswith((".lock", "/")):
        raise SandboxError(f"branch {branch!r}: letters, digits, '-', '_', '.', '/'")
    return branch


def exists(sandbox: Path, full_name: str) -> bool:
    return repository_path(sandbox, full_name).is_dir()


def create(sandbox: Path, full_name: str, files: dict[str, str], message: str = "Initial commit") -> str:
    """Create ``owner/name`` with one commit of ``files`` on the default branch; returns its commit."""
    bare = repository_path(sandbox, full_name)
    if bare.exists():
        raise SandboxError(f"repository {full_name} exists already in the sandbox")
    bare.parent.mkdir(parents=True, exist_ok=True)
    git(["init", "--quiet", "--bare", f"--initial-branch={DEFAULT_BRANCH}", str(bare)], bare.parent)
    return commit(sandbox, full_name, DEFAULT_BRANCH, files, message, new_branch_from=None)


def commit(sandbox: Path, full_name: str, branch: str, files: dict[str, str | None], message: str,
           new_branch_from: str | None = None) -> str:
    """Commit ``files`` (path -> text, or None to delete) on ``branch``; returns the new commit.

    ``new_branch_from``: create ``branch`` from that branch first. Paths must stay inside the repository.
    """
    bare = repository_path(sandbox, full_name)
    _check_branch(branch)
    with tempfile.TemporaryDirectory(prefix="work-", dir=bare.parent) as scratch:
        work = Path(scratch) / "work"
        if bare.joinpath("refs", "heads").is_dir() and git(["for-each-ref", "refs/heads"], bare):
            git(["clone", "--quiet", "--no-hardlinks", str(bare), str(work)], Path(scratch))
            start = new_branch_from or branch
            git(["checkout", "--quiet", "-B", branch, f"origin/{_check_branch(start)}"], work)
        else:
            work.mkdir()
            git(["init", "--quiet", f"--initial-branch={branch}"], work)
        root = work.resolve()
        for name, text in files.items():
            path = (work / name).resolve()
            if root not in path.parents:
                raise SandboxError(f"file {name!r} lies outside repository {full_name}")
            if text is None:
                path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(["add", "--all"], work)
        git(["commit", "--quiet", "--allow-empty", "-m", message], work)
        git(["push", "--quiet", str(bare), f"HEAD:refs/heads/{branch}"], work)
        return git(["rev-parse", "HEAD"], work)


def _pulls(bare: Path) -> dict:
    file = bare / PULLS_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def open_pull_request(sandbox: Path, full_name: str, branch: str, files: dict[str, str | None], message: str,
                      base: str = DEFAULT_BRANCH) -> PullRequestEvent:
    """Push a commit of ``files`` to a new ``branch`` from ``base`` and open a pull request for it."""
    bare = repository_path(sandbox, full_name)
    head = commit(sandbox, full_name, branch, files, message, new_branch_from=base)
    pulls = _pulls(bare)
    number = max((int(n) for n in pulls), default=0) + 1
    pulls[str(number)] = {"head": branch, "base": base, "head_sha": head, "state": "open"}
    (bare / PULLS_FILE).write_text(json.dumps(pulls, indent=1))
    git(["update-ref", f"refs/pull/{number}/head", head], bare)
    return PullRequestEvent(full_name, "PULL_REQUEST_CREATED", number, f"refs/heads/{branch}",
                            f"refs/heads/{base}", head)


def merge_pull_request(sandbox: Path, full_name: str, number: int) -> PushEvent:
    """Merge pull request ``number`` into its base (a real merge commit); returns the push the base got."""
    bare = repository_path(sandbox, full_name)
    pulls = _pulls(bare)
    pull = pulls.get(str(number))
    if pull is None or pull["state"] != "open":
        raise SandboxError(f"{full_name} has no open pull request #{number}")
    with tempfile.TemporaryDirectory(prefix="merge-", dir=bare.parent) as scratch:
        work = Path(scratch) / "work"
        git(["clone", "--quiet", "--no-hardlinks", "--branch", pull["base"], str(bare), str(work)], Path(scratch))
        git(["merge", "--quiet", "--no-ff", "-m", f"Merge pull request #{number}", f"origin/{pull['head']}"], work)
        git(["push", "--quiet", str(bare), f"HEAD:refs/heads/{pull['base']}"], work)
        head = git(["rev-parse", "HEAD"], work)
    pull["state"] = "merged"
    (bare / PULLS_FILE).write_text(json.dumps(pulls, indent=1))
    return PushEvent(full_name, f"refs/heads/{pull['base']}", head)


def resolve(sandbox: Path, full_name: str, version: str | None) -> str | None:
    """The commit a CodeBuild source version names (pr/N, a branch, refs/heads/..., a commit), or None."""
    bare = repository_path(sandbox, full_name)
    if not bare.is_dir():
        return None
    wanted = version or DEFAULT_BRANCH
    if re.fullmatch(r"pr/\d+", wanted):
        wanted = f"refs/pull/{wanted[3:]}/head"
    if wanted.startswith("-"):
        return None
    found = git(["rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}"], bare, check=False)
    return found or None


def checkout(sandbox: Path, full_name: str, commit_id: str, into: Path) -> None:
    """A working copy of ``full_name`` at ``commit_id`` in ``into`` (which must not exist)."""
    bare = repository_path(sandbox, full_name)
    git(["clone", "--quiet", "--no-hardlinks", "--no-checkout", str(bare), str(into)], into.parent)
    git(["checkout", "--quiet", "--detach", commit_id], into)
