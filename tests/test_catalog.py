"""The project's copy of the module catalog agrees with the pinned facts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .tiers import missing
from runbook_lib import catalog

SHARED = Path(__file__).resolve().parents[2] / "shared" / "module-catalog.json"


def _version(text: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\d+(\.\d+)*", text):
        raise ValueError(f"not a plain version: {text!r}")
    return tuple(int(part) for part in text.split("."))


def _allows(constraint: str, version: str) -> bool:
    """Terraform's version-constraint test for the operators the modules use (comma = and)."""
    have = _version(version)
    for part in constraint.split(","):
        op, want_text = re.fullmatch(r"\s*(~>|>=|<=|!=|>|<|=)?\s*(\S+)\s*", part).groups()
        want = _version(want_text)
        size = max(len(have), len(want))
        a, b = have + (0,) * (size - len(have)), want + (0,) * (size - len(want))
        if op == "~>":  # the rightmost given part may grow: ~> 5.0 is >= 5.0, < 6.0
            upper = want[:-2] + (want[-2] + 1,) if len(want) > 1 else (want[0] + 1,)
            ok = a >= b and have[:len(upper)] < upper
        else:
            ok = {None: a == b, "=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]
        if not ok:
            return False
    return True


def test_pinned_commits():
    assert catalog.source(catalog.EKS_CICD, "v0.3.0").commit == "82ebade0e18d03c5eaf9cb15733291bd1833db9f"
    assert catalog.source(catalog.CODESTAR_SETUP, "main").commit.startswith("316926e")
    assert catalog.source(catalog.CODESTAR_SETUP, "v0.1.0").commit.startswith("1ddf495")


def test_supported_refs_exclude_the_aws_3_lines():
    assert catalog.supported_refs(catalog.CODESTAR_SETUP) == ["main"]
    assert catalog.supported_refs(catalog.EKS_CICD) == ["v0.3.0"]


def test_facts_the_renderer_relies_on():
    pipeline = catalog.interface(catalog.EKS_CICD, "v0.3.0", "cicd-pipeline")
    assert pipeline.outputs == ()
    assert pipeline.variables["deployments"].type.startswith("map(object({cluster_name = string")
    assert catalog.interface(catalog.EKS_CICD, "v0.3.0", "deploy-project").outputs == ()
    assert catalog.interface(catalog.EKS_CICD, "v0.3.0", "deploy-role").required_inputs == {"cluster_name", "deployment_account_ids"}
    assert set(catalog.interface(catalog.CODESTAR_SETUP, "main", "codestar-connection").outputs) == {"arn", "parameter"}


def test_the_constraint_check_itself():
    assert _allows("~> 5.0", "5.0.0") and _allows("~> 5.0", "5.100.0") and _allows("~> 5.0", "5.999")
    assert not _allows("~> 5.0", "6.0.0") and not _allows("~> 5.0", "4.67.0") and not _allows("~> 3.0", "5.100.0")
    assert _allows("~> 5.100.0", "5.100.9") and not _allows("~> 5.100.0", "5.101.0")
    assert _allows("~> 5", "5.100.0") and not _allows("~> 5", "6.0.0")
    assert _allows(">= 1.6.2, < 2.0", "1.11.4") and not _allows("5.100.0", "5.100.1")


def test_the_exact_aws_pin_is_on_the_upstream_modules_line():
    assert _version(catalog.AWS_PROVIDER_VERSION) and len(_version(catalog.AWS_PROVIDER_VERSION)) == 3
    assert _allows(catalog.SUPPORTED_AWS_CONSTRAINT, catalog.AWS_PROVIDER_VERSION)
    # every module the runbook calls, at every offered ref, from the catalog itself
    checked = 0
    for repository in (catalog.CODESTAR_SETUP, catalog.EKS_CICD):
        for ref in catalog.supported_refs(repository):
            for module, repo in catalog.MODULE_REPOSITORY.items():
                if repo == repository:
                    constraint = catalog.interface(repository, ref, module).aws_constraint
                    assert _allows(constraint, catalog.AWS_PROVIDER_VERSION), (repository, ref, module, constraint)
                    checked += 1
    assert checked == len(catalog.MODULE_REPOSITORY)


@pytest.mark.skipif(not SHARED.is_file(), reason="the shared design catalog is not beside this checkout")
def test_copy_matches_the_shared_catalog():
    ours = json.loads((Path(catalog.__file__).parent / "data" / "module_catalog.json").read_text())
    assert ours == json.loads(SHARED.read_text())


def _module_files(repository: Path, commit: str, module: str) -> list[str]:
    import subprocess

    listed = subprocess.run(["git", f"--git-dir={repository}", "ls-tree", "--name-only", f"{commit}:modules/{module}"],
                            capture_output=True, text=True, check=True).stdout.split()
    return [subprocess.run(["git", f"--git-dir={repository}", "show", f"{commit}:modules/{module}/{name}"],
                           capture_output=True, text=True, check=True).stdout
            for name in listed if name.endswith(".tf")]


def test_the_catalog_matches_the_modules_at_the_pinned_commits_in_the_mirror():
    """Every module the catalog describes at a commit the mirror holds: same variables, required ones, outputs."""
    import io
    import os

    import hcl2

    from runbook_lib import module_mirror

    mirror = os.environ.get("RUNBOOK_TF_MODULE_MIRROR")
    if not mirror:
        missing("no module mirror beside this checkout (RUNBOOK_TF_MODULE_MIRROR)")
    compared = 0
    for key, entry in catalog._raw()["modules"].items():
        source_key, module = key.split("//modules/")
        src = catalog._raw()["sources"][source_key]
        repository = Path(mirror) / (src["repository"].removeprefix("github.com/") + ".git")
        if not module_mirror.has_commit(repository, src["commit"]):
            continue   # a ref the mirror does not carry (the catalog also records refs the runbook refuses)
        variables, outputs = {}, set()
        for text in _module_files(repository, src["commit"], module):
            parsed = hcl2.load(io.StringIO(text))
            for block in parsed.get("variable", []):
                for name, body in block.items():   # python-hcl2 may keep a label's quotes
                    variables[name.strip('"')] = "default" not in body
            for block in parsed.get("output", []):
                outputs.update(name.strip('"') for name in block)
        assert set(entry["variables"]) == set(variables), key
        assert {n for n, v in entry["variables"].items() if v["required"]} == {n for n, r in variables.items() if r}, key
        assert set(entry["outputs"]) == outputs, key
        compared += 1
    assert compared >= 10, f"only {compared} modules compared: is the mirror complete?"
