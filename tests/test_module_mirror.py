"""Upstream modules through RUNBOOK_TF_MODULE_MIRROR: real git, real Terraform, no network.

The rendered sources stay ``git::https://github.com/thoughtbot/...?ref=<sha>`` on both
targets; the mirror redirects them with git's insteadOf. These tests need a mirror
holding the pinned commits (the Makefile and tests/conftest.py find one at
``../shared/module-mirror``) and are skipped without one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .tiers import missing
from runbook_lib import catalog
from runbook_lib.errors import TerraformError
from runbook_lib.render import render_files, write_files
from runbook_lib.sandbox.target import SERVICES, SandboxTarget
from runbook_lib.targets import make_target
from runbook_lib.terraform.binary import MODULE_MIRROR_ENV, module_mirror, terraform_env
from runbook_lib.terraform.runner import Terraform

from .conftest import needs_terraform

ENDPOINT = "http://127.0.0.1:45999"
PINNED = {catalog.EKS_CICD: "82ebade0e18d03c5eaf9cb15733291bd1833db9f",
          catalog.CODESTAR_SETUP: "316926eca808be49d39ab99c0e0463a0ff7e861a"}

# Provider endpoint key for each AWS resource or data source type prefix the upstream modules use;
# None: computed by the provider itself, no API call.
ENDPOINT_OF = {
    "aws_codebuild_": "codebuild", "aws_codepipeline": "codepipeline",
    "aws_codestarconnections_": "codestarconnections", "aws_ecr_": "ecr", "aws_eks_": "eks", "aws_iam_role": "iam",
    "aws_iam_policy_document": None, "aws_iam_policy": "iam", "aws_s3_": "s3", "aws_ssm_": "ssm",
    "aws_caller_identity": "sts", "aws_partition": None, "aws_region": None,
}


def mirror_or_skip() -> Path:
    path = os.environ.get(MODULE_MIRROR_ENV)
    if not path:
        missing(f"{MODULE_MIRROR_ENV} is not set (no module mirror beside this checkout)")
    return Path(path)


def git(mirror: Path, repository: str, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={mirror / 'thoughtbot' / (repository + '.git')}", *args],
                          capture_output=True, text=True, check=True).stdout


def endpoint_key(kind: str) -> str | None:
    matches = [prefix for prefix in ENDPOINT_OF if kind.startswith(prefix)]
    assert matches, f"{kind}: which provider endpoint does it call? Add it to ENDPOINT_OF"
    return ENDPOINT_OF[max(matches, key=len)]


def test_the_endpoints_cover_every_service_the_upstream_modules_call():
    """Read from the modules at the pinned commits: a service missing from the endpoints would leave loopback."""
    mirror = mirror_or_skip()
    kinds = set()
    for repository, commit in PINNED.items():
        for path in git(mirror, repository, "ls-tree", "-r", "--name-only", commit, "modules").split():
            if path.endswith(".tf"):
                text = git(mirror, repository, "show", f"{commit}:{path}")
                kinds |= set(re.findall(r'^(?:resource|data)\s+"(aws_[a-z0-9_]+)"', text, flags=re.M))
    assert "aws_codestarconnections_connection" in kinds and "aws_codebuild_webhook" in kinds
    needed = {endpoint_key(kind) for kind in kinds} - {None}
    assert needed <= set(SERVICES), f"missing from the sandbox endpoints: {sorted(needed - set(SERVICES))}"


@needs_terraform()
@pytest.mark.terraform
def test_every_endpoint_is_a_key_the_aws_provider_knows(tmp_path):
    """Checked against the real provider's schema (5.100.0): a misspelt key would be rejected, or ignored."""
    import json

    (tmp_path / "main.tf").write_text('terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", '
                                      f'version = "{catalog.AWS_PROVIDER_VERSION}" }}\n  }}\n}}\n')
    env = terraform_env(tmp_path / ".rc", plugin_cache=False)
    subprocess.run(["terraform", "init", "-input=false", "-backend=false"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    schema = json.loads(subprocess.run(["terraform", "providers", "schema", "-json"], cwd=tmp_path, env=env,
                                       check=True, capture_output=True, text=True).stdout)
    provider = schema["provider_schemas"]["registry.terraform.io/hashicorp/aws"]["provider"]["block"]
    keys = set(provider["block_types"]["endpoints"]["block"]["attributes"])
    assert set(SERVICES) <= keys, sorted(set(SERVICES) - keys)


def test_the_mirror_reaches_every_terraform_command_as_git_insteadof(tmp_path, monkeypatch):
    monkeypatch.setenv(MODULE_MIRROR_ENV, str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.name")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "someone")
    env = terraform_env(tmp_path / "config", plugin_cache=False)
    assert env["GIT_CONFIG_COUNT"] == "2" and env["GIT_CONFIG_KEY_0"] == "user.name"   # the user's entry is kept
    assert (env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == (f"url.{tmp_path.resolve()}/.insteadOf",
                                                                    "https://github.com/")
    monkeypatch.delenv(MODULE_MIRROR_ENV)
    assert "GIT_CONFIG_KEY_1" not in terraform_env(tmp_path / "config", plugin_cache=False)


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_a_mirror_that_is_not_a_folder_is_refused_before_anything_runs(tmp_path, monkeypatch, kind):
    target = tmp_path / "mirror"
    if kind == "file":
        target.write_text("not a folder")
    monkeypatch.setenv(MODULE_MIRROR_ENV, str(target))
    with pytest.raises(TerraformError) as refused:
        Terraform(tmp_path, root="ci/web", sink=lambda _: None)
    message = str(refused.value)
    assert MODULE_MIRROR_ENV in message and str(target) in message and "Nothing was run" in message
    assert ("is a file, not a folder" if kind == "file" else "does not exist") in message


def _rendered_ci_root(org, apps, tmp_path) -> Path:
    write_files(tmp_path, render_files(org, apps["web"], make_target("live")))
    return tmp_path / "infra/ci/web"


def _init_modules(workdir: Path) -> subprocess.CompletedProcess:
    """``terraform init`` of the modules only (no backend: nothing here may reach AWS), in the runbook's env."""
    tf = Terraform(workdir, root="ci/web", sink=lambda _: None)
    return subprocess.run([tf.binary, f"-chdir={workdir}", "init", "-input=false", "-no-color", "-backend=false"],
                          env=tf.env, capture_output=True, text=True)


@needs_terraform()
@pytest.mark.terraform
def test_init_fetches_the_pinned_upstream_modules_from_the_mirror_offline(org, apps, tmp_path):
    mirror_or_skip()
    workdir = _rendered_ci_root(org, apps, tmp_path)
    done = _init_modules(workdir)
    assert done.returncode == 0, done.stderr
    import json

    modules = json.loads((workdir / ".terraform/modules/modules.json").read_text())["Modules"]
    sources = {m["Key"]: m["Source"] for m in modules}
    assert sources["ecr_repository"] == ("git::https://github.com/thoughtbot/terraform-eks-cicd.git//modules/"
                                         f"ecr-repository?ref={PINNED[catalog.EKS_CICD]}")
    fetched = workdir / ".terraform/modules/ecr_repository/modules/ecr-repository"
    assert (fetched / "main.tf").is_file()


def _explained(workdir: Path) -> str:
    """The runbook's message for a failed module init (no backend: nothing here may reach AWS)."""
    tf = Terraform(workdir, root="ci/web", sink=lambda _: None)
    with pytest.raises(TerraformError) as failed:
        tf._run(["init", "-input=false", "-no-color", "-backend=false"], stream=False)
    return str(failed.value)


@needs_terraform()
@pytest.mark.terraform
def test_without_a_mirror_and_without_github_init_says_to_set_the_mirror(org, apps, tmp_path, monkeypatch):
    """No mirror, and git cannot reach github.com (a proxy that refuses, so this holds on any machine)."""
    monkeypatch.delenv(MODULE_MIRROR_ENV, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    workdir = _rendered_ci_root(org, apps, tmp_path)
    message = _explained(workdir)
    assert "cannot reach GitHub" in message and f"Set {MODULE_MIRROR_ENV}" in message, message
    assert not (workdir / "terraform.tfstate").exists()
    assert not (workdir / ".terraform/modules/ecr_repository/modules").exists()


@needs_terraform()
@pytest.mark.terraform
def test_a_mirror_without_the_pinned_commit_is_named_with_the_commit(org, apps, tmp_path, monkeypatch):
    """A mirror whose terraform-eks-cicd.git is some other repository (here: terraform-codestar-setup)."""
    real = mirror_or_skip()
    bad = tmp_path / "bad-mirror" / "thoughtbot"
    bad.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(real / "thoughtbot/terraform-codestar-setup.git"),
                    str(bad / "terraform-eks-cicd.git")], check=True)
    monkeypatch.setenv(MODULE_MIRROR_ENV, str(bad.parent))
    message = _explained(_rendered_ci_root(org, apps, tmp_path / "out"))
    assert f"{bad / 'terraform-eks-cicd.git'} does not hold the pinned commit {PINNED[catalog.EKS_CICD]}" in message
    assert MODULE_MIRROR_ENV in message and "Nothing was changed" in message


@needs_terraform()
@pytest.mark.terraform
def test_a_mirror_repository_git_cannot_read_is_named(org, apps, tmp_path, monkeypatch):
    """A bare repository that lost its (empty) refs/ folder in a copy: git no longer sees a repository."""
    real = mirror_or_skip()
    broken = tmp_path / "broken-mirror" / "thoughtbot"
    broken.mkdir(parents=True)
    for repository in PINNED:
        subprocess.run(["git", "clone", "-q", "--bare", str(real / f"thoughtbot/{repository}.git"),
                        str(broken / f"{repository}.git")], check=True)
        subprocess.run(["git", f"--git-dir={broken / (repository + '.git')}", "pack-refs", "--all"], check=True)
        subprocess.run(["rm", "-rf", str(broken / f"{repository}.git" / "refs")], check=True)
    monkeypatch.setenv(MODULE_MIRROR_ENV, str(broken.parent))
    message = _explained(_rendered_ci_root(org, apps, tmp_path / "out"))
    assert "is not a git repository git can read" in message and "refs/" in message, message


def test_module_mirror_is_none_when_unset(monkeypatch):
    monkeypatch.setenv(MODULE_MIRROR_ENV, "  ")
    assert module_mirror() is None


def test_sandbox_roots_use_the_live_sources(org, apps):
    sandbox = render_files(org, apps["web"], SandboxTarget(endpoint=ENDPOINT))
    sources = re.findall(r'source = "([^"]+)"', "".join(v for k, v in sandbox.items() if k.endswith("main.tf")))
    assert sources and all(s.startswith("git::https://github.com/thoughtbot/") and
                           re.search(r"\?ref=[0-9a-f]{40}$", s) for s in sources), sources


# -- runbook modules mirror -------------------------------------------------------------------

RUNBOOK = [os.sys.executable, "-m", "runbook_lib.cli"]
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "module-mirror"


def _modules(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run([*RUNBOOK, "modules", "mirror", *args, "--org", str(root / "parameters/org.yaml")],
                          cwd=cwd or root, capture_output=True, text=True, timeout=300)


def test_a_mirror_built_from_a_copy_without_refs_is_one_git_reads(tmp_path):
    if not SHARED.is_dir():
        missing("no module mirror beside this checkout to copy from")
    source = tmp_path / "copy"
    for repository in ("terraform-eks-cicd", "terraform-codestar-setup"):   # as some copies leave a bare repo:
        copy = source / "thoughtbot" / f"{repository}.git"                  # no refs/, all in packed-refs
        shutil.copytree(SHARED / "thoughtbot" / f"{repository}.git", copy)
        shutil.rmtree(copy / "refs", ignore_errors=True)
    unreadable = subprocess.run(["git", f"--git-dir={source / 'thoughtbot/terraform-eks-cicd.git'}", "cat-file",
                                 "-e", f"{PINNED[catalog.EKS_CICD]}^{{commit}}"], capture_output=True)
    assert unreadable.returncode != 0   # what git makes of such a copy
    built = _modules(str(tmp_path / "mirror"), "--from", str(source))
    assert built.returncode == 0, built.stdout + built.stderr
    for commit in PINNED.values():
        assert f"= {commit}" in built.stdout
    again = _modules(str(tmp_path / "mirror"), "--from", str(source))
    assert again.returncode == 0 and again.stdout.count("  kept ") == 2, again.stdout


def test_a_mirror_without_a_pinned_commit_says_which(tmp_path):
    source = tmp_path / "source" / "thoughtbot"
    for repository in ("terraform-eks-cicd", "terraform-codestar-setup"):
        subprocess.run(["git", "init", "--quiet", "--bare", str(source / f"{repository}.git")], check=True)
    result = _modules(str(tmp_path / "mirror"), "--from", str(source.parent))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("MISSING") == 2 and "2 pinned commit(s) are not in the mirror" in result.stdout


@pytest.mark.parametrize("case", ["source is not a repository", "mirror is a file", "source is nothing"])
def test_bad_mirror_arguments_write_nothing(tmp_path, case):
    dest = tmp_path / "mirror"
    source = tmp_path / "source"
    (source / "thoughtbot" / "terraform-codestar-setup.git").mkdir(parents=True)   # no HEAD, no objects
    if case == "mirror is a file":
        dest.write_text("not a folder")
    args = [str(dest), "--from", str(tmp_path / "nothing") if case == "source is nothing" else str(source)]
    result = _modules(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "error:" in result.stderr
    if case == "mirror is a file":
        assert dest.read_text() == "not a folder"
    else:
        assert not dest.exists()


@needs_terraform()
def test_validate_runs_terraform_on_the_live_roots_with_the_modules_from_the_mirror(tmp_path):
    mirror_or_skip()
    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "out"
    args = ["--app", "parameters/apps/web.yaml", "--target", "live", "--out", str(out)]
    env = dict(os.environ, COLUMNS="200", HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    assert subprocess.run([*RUNBOOK, "render", *args], cwd=root, env=env, capture_output=True).returncode == 0
    result = subprocess.run([*RUNBOOK, "validate", *args], cwd=root, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    rows = [line for line in result.stdout.splitlines() if "terraform validate" in line and "│" in line]
    assert len(rows) == 3 and all("PASS" in row for row in rows), rows
