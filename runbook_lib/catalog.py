"""The project's copy of the pinned upstream module interfaces.

``data/module_catalog.json`` lists, per upstream source at a pinned commit, each
module's variables and outputs. The renderer pins sources to full commit SHAs
from here, and static validation checks every module call against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

CODESTAR_SETUP = "terraform-codestar-setup"
EKS_CICD = "terraform-eks-cicd"

# Which upstream repository each module the runbook uses comes from.
MODULE_REPOSITORY = {
    "artifact-bucket": CODESTAR_SETUP,
    "codebuild-credential": CODESTAR_SETUP,
    "codestar-connection": CODESTAR_SETUP,
    "ecr-repository": EKS_CICD,
    "ecr-project": EKS_CICD,
    "manifests-project": EKS_CICD,
    "deploy-role": EKS_CICD,
    "deploy-project": EKS_CICD,
    "cicd-pipeline": EKS_CICD,
}
# The AWS provider line the upstream modules declare (and the only one the sandbox
# and the rendered roots are built for): module refs on another line are not offered.
SUPPORTED_AWS_CONSTRAINT = "~> 5.0"
# The exact AWS provider version every rendered root requires, inside that line: the
# version the sandbox runs and the tests were run against. An exact constraint, not a
# committed lock file, because a lock file needs checksums for every platform users
# run on, which only the registry can give (tests/test_catalog.py checks the pin is
# on the modules' line).
AWS_PROVIDER_VERSION = "5.100.0"


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    required: bool
    default: object = None


@dataclass(frozen=True)
class ModuleInterface:
    key: str                 # e.g. "terraform-eks-cicd@v0.3.0//modules/deploy-role"
    variables: dict[str, Variable]
    outputs: tuple[str, ...]
    required_version: str
    aws_constraint: str

    @property
    def required_inputs(self) -> set[str]:
        return {name for name, var in self.variables.items() if var.required}


@dataclass(frozen=True)
class Source:
    repository: str          # github.com/thoughtbot/<name>
    ref: str
    commit: str

    @property
    def short(self) -> str:
        return self.commit[:7]


@lru_cache(maxsize=1)
def _raw() -> dict:
    text = resources.files("runbook_lib").joinpath("data/module_catalog.json").read_text()
    return json.loads(text)


def source(repository: str, ref: str) -> Source:
    entry = _raw()["sources"][f"{repository}@{ref}"]
    return Source(entry["repository"], entry["ref"], entry["commit"])


def interface(repository: str, ref: str, module: str) -> ModuleInterface:
    key = f"{repository}@{ref}//modules/{module}"
    raw = _raw()["modules"][key]
    variables = {
        name: Variable(name, spec["type"], spec["required"], spec.get("default"))
        for name, spec in raw["variables"].items()
    }
    return ModuleInterface(
        key=key,
        variables=variables,
        outputs=tuple(raw["outputs"]),
        required_version=raw["terraform"]["required_version"],
        aws_constraint=raw["terraform"]["providers"]["aws"]["version"],
    )


def supported_refs(repository: str) -> list[str]:
    """Refs of ``repository`` that carry every module we use, on the supported AWS provider line."""
    refs = []
    needed = [m for m, repo in MODULE_REPOSITORY.items() if repo == repository]
    for key in _raw()["sources"]:
        repo, ref = key.split("@", 1)
        if repo != repository:
            continue
        keys = [f"{key}//modules/{m}" for m in needed]
        if all(k in _raw()["modules"] for k in keys) and all(
            _raw()["modules"][k]["terraform"]["providers"]["aws"]["version"] == SUPPORTED_AWS_CONSTRAINT
            for k in keys
        ):
            refs.append(ref)
    return refs


def git_source(repository: str, ref: str, module: str) -> str:
    """A module source pinned to the full commit SHA (never a branch or bare tag)."""
    src = source(repository, ref)
    return f"git::https://{src.repository}.git//modules/{module}?ref={src.commit}"


def interface_for_source(source_line: str) -> ModuleInterface | None:
    """Find the interface a rendered ``source`` line points at (live git source or sandbox path)."""
    for key, entry in _raw()["sources"].items():
        repo, ref = key.split("@", 1)
        prefix = f"git::https://{entry['repository']}.git//modules/"
        if source_line.startswith(prefix) and source_line.endswith(f"?ref={entry['commit']}"):
            module = source_line[len(prefix):].split("?", 1)[0]
            return interface(repo, ref, module)
    return None
