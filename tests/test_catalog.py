"""The project's copy of the module catalog agrees with the pinned facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_lib import catalog

SHARED = Path(__file__).resolve().parents[2] / "shared" / "module-catalog.json"


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


@pytest.mark.skipif(not SHARED.is_file(), reason="the shared design catalog is not beside this checkout")
def test_copy_matches_the_shared_catalog():
    ours = json.loads((Path(catalog.__file__).parent / "data" / "module_catalog.json").read_text())
    assert ours == json.loads(SHARED.read_text())
