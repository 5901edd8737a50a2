"""Shared fixtures: the example parameters, and a Terraform CLI configured for this machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from runbook_lib.parameters import load_app, load_org

ROOT = Path(__file__).resolve().parent.parent
PARAMS = ROOT / "parameters"
ORG_FILE = PARAMS / "org.yaml"
APP_FILES = sorted((PARAMS / "apps").glob("*.yaml"))
# Machines without internet carry an unpacked provider mirror; use it when present.
DEFAULT_MIRROR = Path("/opt/tf-plugins")

if "RUNBOOK_TF_PROVIDER_MIRROR" not in os.environ and DEFAULT_MIRROR.is_dir():
    os.environ["RUNBOOK_TF_PROVIDER_MIRROR"] = str(DEFAULT_MIRROR)


@pytest.fixture(scope="session")
def org():
    return load_org(ORG_FILE)


@pytest.fixture(scope="session")
def apps(org):
    return {path.stem: load_app(path, org, ORG_FILE) for path in APP_FILES}


def needs_terraform():
    return pytest.mark.skipif(shutil.which("terraform") is None, reason="the Terraform CLI is not on PATH")
