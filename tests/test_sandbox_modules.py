"""The sandbox modules match the pinned upstream interfaces, label their stand-ins,
and the moto patches they rely on are still needed (and still work).

No network and no Terraform runs here: the .tf files are parsed with python-hcl2
and moto runs in-process.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from runbook_lib.sandbox import moto_patches

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "runbook_lib" / "sandbox" / "modules"
CATALOG = json.loads((ROOT / "runbook_lib" / "data" / "module_catalog.json").read_text())

CODESTAR_SETUP = "terraform-codestar-setup@main"
EKS_CICD = "terraform-eks-cicd@v0.3.0"
SOURCE_OF = {
    "artifact-bucket": CODESTAR_SETUP,
    "codebuild-credential": CODESTAR_SETUP,
    "codestar-connection": CODESTAR_SETUP,
    "ecr-repository": EKS_CICD,
    "codebuild-project": EKS_CICD,
    "ecr-project": EKS_CICD,
    "manifests-project": EKS_CICD,
    "deploy-role": EKS_CICD,
    "deploy-project": EKS_CICD,
    "cicd-pipeline": EKS_CICD,
}
# Where the emulator lacks the service: the stand-ins each module must carry.
STAND_INS = {
    "codebuild-credential": {"source_credential"},
    "codestar-connection": {"connection"},
    "codebuild-project": {"webhook"},
}
# Resource types the emulator cannot serve; no sandbox module may use them.
NOT_EMULATED_TYPES = (
    "aws_codestarconnections_connection",
    "aws_codebuild_webhook",
    "aws_codebuild_source_credential",
)
FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")


def catalog_entry(module: str) -> dict:
    return CATALOG["modules"][f"{SOURCE_OF[module]}//modules/{module}"]


def load(module: str, name: str) -> dict:
    with (MODULES / module / name).open() as handle:
        return hcl2.load(handle)


def unquote(label: str) -> str:
    return label[1:-1] if label.startswith('"') and label.endswith('"') else label


def hcl_type(value: str) -> str:
    """python-hcl2 writes an expression as ``${...}``; a bare keyword as is."""
    text = value[2:-1] if value.startswith("${") and value.endswith("}") else value
    return re.sub(r"\s+", " ", text).strip()


def hcl_value(value):
    """python-hcl2 keeps a string literal's quotes; strip them, recursively."""
    if isinstance(value, str):
        return json.loads(value) if value.startswith('"') and value.endswith('"') else value
    if isinstance(value, list):
        return [hcl_value(item) for item in value]
    if isinstance(value, dict):
        return {unquote(k): hcl_value(v) for k, v in value.items() if k != "__is_block__"}
    return value


def declared_variables(module: str) -> dict[str, dict]:
    variables = {}
    for block in load(module, "variables.tf").get("variable", []):
        ((label, body),) = block.items()
        spec = {"type": hcl_type(body["type"]), "required": "default" not in body}
        if "default" in body:
            spec["default"] = hcl_value(body["default"])
        if body.get("validation"):
            spec["has_validation"] = True
        variables[unquote(label)] = spec
    return variables


def declared_outputs(module: str) -> list[str]:
    outputs = load(module, "outputs.tf").get("output", [])
    return sorted(unquote(label) for block in outputs for label in block)


def resources(module: str, kind: str = "resource") -> dict[str, set[str]]:
    """Types and names of the ``resource`` (or ``data``) blocks in main.tf."""
    found: dict[str, set[str]] = {}
    for block in load(module, "main.tf").get(kind, []):
        for rtype, named in block.items():
            found.setdefault(unquote(rtype), set()).update(unquote(n) for n in named)
    return found


def test_every_module_is_there_and_nothing_else():
    present = sorted(p.name for p in MODULES.iterdir() if p.is_dir())
    assert present == sorted(SOURCE_OF)
    for module in SOURCE_OF:
        missing = [name for name in FILES if not (MODULES / module / name).is_file()]
        assert not missing, f"{module}: missing {missing}"


@pytest.mark.parametrize("module", sorted(SOURCE_OF))
def test_variables_match_catalog(module):
    expected = catalog_entry(module)["variables"]
    actual = declared_variables(module)
    assert sorted(actual) == sorted(expected), f"{module}: variable names differ"
    for name, want in expected.items():
        got = actual[name]
        where = f"{module}: variable {name}"
        assert got["type"] == want["type"], f"{where}: type {got['type']!r} != {want['type']!r}"
        assert got["required"] == want["required"], f"{where}: required-ness differs"
        if not want["required"]:
            assert got["default"] == want["default"], f"{where}: default differs"
        assert got.get("has_validation", False) == want.get("has_validation", False), (
            f"{where}: upstream {'has' if want.get('has_validation') else 'has no'} validation"
        )


@pytest.mark.parametrize("module", sorted(SOURCE_OF))
def test_outputs_match_catalog(module):
    assert declared_outputs(module) == sorted(catalog_entry(module)["outputs"])


@pytest.mark.parametrize("module", sorted(SOURCE_OF))
def test_versions(module):
    (terraform,) = load(module, "versions.tf")["terraform"]
    assert hcl_value(terraform["required_version"]) == ">= 1.6.2"
    (providers,) = terraform["required_providers"]
    assert hcl_value(providers["aws"]) == {"source": "hashicorp/aws", "version": "~> 5.0"}


@pytest.mark.parametrize("module", sorted(SOURCE_OF))
def test_main_says_what_it_stands_in_for(module):
    head = (MODULES / module / "main.tf").read_text().splitlines()[:3]
    assert all(line.startswith("#") for line in head), f"{module}: main.tf must open with a comment"
    text = " ".join(head)
    source = CATALOG["sources"][SOURCE_OF[module]]
    assert "Sandbox stand-in for" in text
    assert f"{source['repository'].rsplit('/', 1)[1]}//modules/{module}" in text
    assert source["ref"] in text and source["commit"][:7] in text


@pytest.mark.parametrize("module", sorted(SOURCE_OF))
def test_stand_ins_are_labelled_and_only_where_needed(module):
    text = (MODULES / module / "main.tf").read_text()
    used = set(resources(module)) | set(resources(module, "data"))
    assert not used & set(NOT_EMULATED_TYPES), f"{module} uses what moto cannot serve"
    stand_ins = resources(module).get("terraform_data", set())
    assert stand_ins == STAND_INS.get(module, set())
    for name in stand_ins:
        preceding = text[: text.index(f'resource "terraform_data" "{name}"')]
        comment = preceding.rstrip().rsplit("\n\n", 1)[-1]
        assert "# NOT_EMULATED stand-in:" in comment, f"{module}: {name} is not labelled"
        body = text[len(preceding):].split("\n}\n", 1)[0]
        assert 'status' in body and '"NOT_EMULATED"' in body, f"{module}: {name} has no status"


@pytest.mark.parametrize("module", ["codestar-connection", "codebuild-credential"])
def test_stand_in_arns_say_not_emulated(module):
    text = (MODULES / module / "main.tf").read_text()
    (arn,) = re.findall(r'arn\s*=\s*"(arn:[^"]+)"', text)
    assert "not-emulated-" in arn.rsplit(":", 1)[1], arn


def test_codestar_connection_writes_the_parameter_other_modules_read():
    text = (MODULES / "codestar-connection" / "main.tf").read_text()
    assert 'name  = "/codestar_connection/${var.provider_type}/${var.name}"' in text
    assert 'type  = "String"' in text
    for module in ("codebuild-project", "cicd-pipeline"):
        body = (MODULES / module / "main.tf").read_text()
        assert 'data "aws_ssm_parameter" "codestar_connection"' in body
        assert "name = var.codestar_connection" in body


def test_codebuild_credential_never_outputs_the_token():
    main = (MODULES / "codebuild-credential" / "main.tf").read_text()
    outputs = (MODULES / "codebuild-credential" / "outputs.tf").read_text()
    assert "with_decryption = true" in main
    assert "data.aws_ssm_parameter.token.value" not in main + outputs
    assert "insecure_value" not in main + outputs
    assert "aws_ssm_parameter" not in outputs


def test_deploy_role_looks_the_cluster_up_like_upstream():
    # Upstream reads the cluster with a data source, so a cluster in another region
    # needs a provider for that region; the sandbox module does the same to catch it.
    text = (MODULES / "deploy-role" / "main.tf").read_text()
    assert 'data "aws_eks_cluster" "this"' in text
    assert "data.aws_eks_cluster.this.arn" in text
    assert '"aws:PrincipalTag/cluster.${var.cluster_name}.deploy"' in text
    assert 'name               = local.role_name' in text and '"${var.cluster_name}-deploy"' in text


@pytest.mark.parametrize("module", ["ecr-project", "manifests-project"])
def test_project_modules_call_codebuild_project(module):
    (block,) = load(module, "main.tf")["module"]
    assert hcl_value(block['"project"']["source"]) == "../codebuild-project"


@pytest.mark.terraform
@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform CLI not on PATH")
def test_modules_are_terraform_fmt_clean():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-list=true", str(MODULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"not `terraform fmt` clean: {result.stdout}{result.stderr}"


# --- moto patches ---------------------------------------------------------------------

PATCH_NAMES = [patch.name for patch in moto_patches.PATCHES]


@pytest.fixture
def restore_patches():
    """Leave the process's moto patched exactly as the test found it."""
    pytest.importorskip("moto", reason="moto (the sandbox extra) is not installed")
    before = moto_patches.applied()
    yield
    moto_patches.revert()
    moto_patches.apply(before)


@pytest.mark.parametrize("name", PATCH_NAMES)
def test_moto_bug_still_present(name, restore_patches):
    import moto

    patch = next(p for p in moto_patches.PATCHES if p.name == name)
    assert moto_patches.bug_present(name), (
        f"moto {moto.__version__} no longer has the bug behind the sandbox patch "
        f"{name!r} ({patch.bug}). Remove that patch from "
        f"runbook_lib/sandbox/moto_patches.py (and this test's expectation)."
    )


@pytest.mark.parametrize("name", PATCH_NAMES)
def test_moto_behaves_like_aws_once_patched(name, restore_patches):
    moto_patches.apply()
    assert moto_patches.behaves_like_aws(name), f"patch {name!r} does not fix what it says"


def test_apply_is_idempotent_and_revertible(restore_patches):
    def stored_now():
        return {p.name: moto_patches._stored(p.owner(), p.attribute) for p in moto_patches.PATCHES}

    moto_patches.revert()
    stored = stored_now()
    moto_patches.apply()
    first = stored_now()
    moto_patches.apply()
    second = stored_now()
    assert first == second
    assert all(first[name] is not stored[name] for name in PATCH_NAMES)
    assert moto_patches.applied() == PATCH_NAMES
    with moto_patches.unpatched():
        assert moto_patches.applied() == []
        assert stored_now() == stored
    assert moto_patches.applied() == PATCH_NAMES
    moto_patches.revert()
    moto_patches.revert()
    assert stored_now() == stored


def test_patches_are_documented():
    for patch in moto_patches.PATCHES:
        assert patch.bug.strip() and patch.fix.strip(), patch.name
    assert len(set(PATCH_NAMES)) == len(PATCH_NAMES)
    with pytest.raises(KeyError, match="no moto patch named"):
        moto_patches.bug_present("no-such-patch")


def test_named_probes_cover_every_patch():
    named = [n for n in dir(moto_patches) if n.startswith("bug_present_")]
    assert len(named) == len(PATCH_NAMES)
