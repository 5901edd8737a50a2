"""A job on a machine that shares no folder with the run: what it takes along, and what it brings back.

A job packed as a :class:`Parcel` carries the files its notebooks read (the notebooks
themselves and the parameters files they are given), so a worker needs only the
package and Terraform. There it runs in a scratch folder of its own, under the
worker's local directory; its kernels get that folder as their project root, their
own stop file, and the run's sandbox folder. The executed notebooks and the record
come back inside the :class:`Shipped` result, as bytes, and :func:`land` writes them
into the run folder, where the report links to them as on a local run. The rendered
roots and Terraform's working files stay on the worker and are deleted with the
scratch folder when the job ends: every run renders them again, and the state that
matters is in the state bucket.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..engine import STOP_FILE_ENV
from ..project import PROJECT_ROOT_ENV
from .jobs import Job, JobResult

INPUTS = "inputs"      # parameters files from outside the project folder go here, in the scratch project


@dataclass(frozen=True)
class Parcel:
    job: Job                                  # as the runner built it, with the run folder's paths
    files: dict[str, bytes]                   # project-relative path -> content: notebooks and parameters
    parameters: dict[str, dict[str, str]]     # notebook -> {name: project-relative path} replacing client paths
    env: dict[str, str] = field(default_factory=dict)   # for the kernels (the run's sandbox folder)


@dataclass
class Shipped:
    result: JobResult                         # its steps name files relative to the job folder
    files: dict[str, bytes]                   # job-folder-relative path -> content


def _project_relative(root: Path, path: str, index: int) -> str:
    resolved = (root / path).resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"{INPUTS}/{index}-{resolved.name}"


def pack(job: Job, env: dict[str, str] | None = None) -> Parcel:
    """Everything ``job`` reads, from this machine."""
    root = Path(job.root)
    files: dict[str, bytes] = {}
    parameters: dict[str, dict[str, str]] = {}
    for name, params in job.notebooks:
        files[f"notebooks/{name}.ipynb"] = (root / "notebooks" / f"{name}.ipynb").read_bytes()
        moved = {}
        for key in ("org_file", "app_file"):
            if params.get(key):
                rel = _project_relative(root, params[key], len(files))
                files.setdefault(rel, (root / params[key]).resolve().read_bytes())
                moved[key] = rel
        parameters[name] = moved
    return Parcel(job, files, parameters, dict(env or {}))


def _inside(folder: Path, rel: str) -> Path:
    target = (folder / rel).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ValueError(f"{rel}: not a path inside {folder}")
    return target


def run_parcel(parcel: Parcel, fn, scratch_base: str | None = None) -> Shipped:
    """On the worker: unpack into a scratch folder, run ``fn`` on the job moved there, pack what it wrote."""
    scratch = Path(tempfile.mkdtemp(prefix=f"runbook-{parcel.job.label}-", dir=scratch_base))
    try:
        project, out, work = scratch / "project", scratch / "out", scratch / "work"
        for rel, content in parcel.files.items():
            target = _inside(project, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        out.mkdir()
        notebooks = tuple((name, {**params, **parcel.parameters.get(name, {}),
                                  "out_dir": str(work), "record_file": str(out / "record.json")})
                          for name, params in parcel.job.notebooks)
        env = {**parcel.env, PROJECT_ROOT_ENV: str(project), STOP_FILE_ENV: str(scratch / ".stop")}
        job = replace(parcel.job, notebooks=notebooks, folder=str(out), record_file=str(out / "record.json"),
                      root=str(project), kernel_env=tuple(sorted(env.items())))
        result = fn(job)
        for step in result.steps:
            step.path = Path(step.path).name
        files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        return Shipped(result, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def land(job: Job, shipped: Shipped) -> JobResult:
    """On the client: write what came back into the job's folder; the result's steps name those files."""
    folder = Path(job.folder)
    folder.mkdir(parents=True, exist_ok=True)
    for rel, content in shipped.files.items():
        target = _inside(folder, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for step in shipped.result.steps:
        step.path = str(folder / step.path)
    return shipped.result

