"""Static validation: check a rendered tree before any Terraform runs.

:func:`validate_tree` checks the files under ``out`` against a fresh render of
the parameters (drift, and files Terraform would read that the runbook did not
render), then formatting, module calls, cross-root wiring and the
buildspecs. It returns findings; nothing here writes or changes a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from ..parameters.models import App, Org
from ..render import render_files, render_roots
from ..terraform.imports import IMPORTS_FILE, is_import_file
from .findings import Finding, Status, passed, shown, summary, table, to_html
from .parse import parse_root
from .static import check_buildspec, check_consistency, check_fmt, check_modules


# What Terraform reads from a module directory: configuration (*.tf, *.tf.json, override
# files among them: override.tf, *_override.tf and their .json forms) and variable files
# (terraform.tfvars and *.auto.tfvars load by themselves; the rest only on request, but
# none belongs in a rendered root). terraform.d/ holds providers Terraform installs
# from when it runs inside the directory.
TERRAFORM_READS = ("*.tf", "*.tf.json", "*.tfvars", "*.tfvars.json", "terraform.d")
TERRAFORM_CONFIG = ("*.tf", "*.tf.json")


def terraform_dirs(rendered: Iterable[str]) -> list[str]:
    """The folders (relative to the output folder) the runbook renders Terraform configuration into."""
    return sorted({str(PurePosixPath(rel).parent) for rel in rendered
                   if any(fnmatch(PurePosixPath(rel).name, pattern) for pattern in TERRAFORM_CONFIG)})


def _runbook_imports(entry: Path) -> bool:
    """The import blocks the runbook wrote after an interrupted apply (and nothing else in that file)."""
    if entry.name != IMPORTS_FILE or not entry.is_file() or entry.is_symlink() or entry.stat().st_size > 1_000_000:
        return False
    try:
        return is_import_file(entry.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False


def check_unrendered(out: Path, rendered: Iterable[str]) -> list[Finding]:
    """A FAIL for each rendered Terraform folder that holds something Terraform reads which the runbook did not render.

    Terraform loads every such file in the folder, so one dropped there is planned and
    applied along with ours (a provider override can send credentials elsewhere).
    ``.terraform/``, ``.terraform.lock.hcl``, the saved plan and the runbook's CLI config
    folder are not matched. Returns nothing when every folder is clean.
    """
    rendered = set(rendered)
    findings = []
    for folder in terraform_dirs(rendered):
        if not (out / folder).is_dir():
            continue
        stray = sorted(entry.name for entry in (out / folder).iterdir()
                       if f"{folder}/{entry.name}" not in rendered
                       and any(fnmatch(entry.name, pattern) for pattern in TERRAFORM_READS)
                       and not _runbook_imports(entry))
        if stray:
            findings.append(Finding("rendered files", folder, Status.FAIL,
                                    f"not rendered by the runbook, but Terraform would read: {', '.join(stray)}; "
                                    f"move them out of {folder} or delete them"))
    return findings


def check_drift(out: Path, expected: dict[str, str]) -> list[Finding]:
    findings = []
    missing = [rel for rel in expected if not (out / rel).is_file()]
    stale = [rel for rel in expected if (out / rel).is_file() and (out / rel).read_text(encoding="utf-8") != expected[rel]]
    if missing:
        findings.append(Finding("rendered files", "output folder", Status.FAIL,
                                f"{len(missing)} file(s) missing, e.g. {missing[0]}; run `runbook render` first"))
    if stale:
        findings.append(Finding("rendered files", "output folder", Status.FAIL,
                                f"{len(stale)} file(s) differ from the parameters: {', '.join(stale[:4])}; "
                                "run `runbook render` (hand edits need --force)"))
    if not missing and not stale:
        findings.append(Finding("rendered files", "output folder", Status.PASS, f"{len(expected)} files match the parameters"))
    return findings


def validate_tree(org: Org, app: App | None, target, out: Path) -> list[Finding]:
    out = Path(out)
    expected = render_files(org, app, target)
    findings = check_drift(out, expected) + check_unrendered(out, expected)
    if any(f.status is Status.FAIL and "missing" in f.detail for f in findings):
        return findings
    parsed = {}
    for root in render_roots(org, app, target):
        directory = out / root.path
        findings += check_fmt(directory, root.path)
        try:
            parsed[root.name] = parse_root(directory)
        except ValueError as exc:
            findings.append(Finding("HCL parse", root.path, Status.FAIL, str(exc)))
            continue
        findings.append(Finding("HCL parse", root.path, Status.PASS, f"{len(list(directory.glob('*.tf')))} files parse"))
        findings += check_modules(parsed[root.name], root.path, org)
    if len(parsed) == len(render_roots(org, app, target)):
        findings += check_consistency(parsed, org, app)
    for rel in sorted(expected):
        if rel.endswith((".yml", ".yaml")):
            findings += check_buildspec(out / rel, rel)
    return findings


__all__ = ["Finding", "Status", "check_unrendered", "passed", "shown", "summary", "table", "to_html", "validate_tree"]
