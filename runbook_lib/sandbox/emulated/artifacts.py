"""Pipeline artifacts in the artifact bucket of the emulated S3: written by source actions and builds, read by builds."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from .runtime import settings


class ArtifactError(Exception):
    pass


def _s3(account: str):
    from moto.s3.models import s3_backends

    return s3_backends[account]["aws"]


def write_artifact(location: dict, data: bytes, revision: str) -> None:
    """Put an artifact's bytes at its place in the artifact bucket (under the emulator's lock)."""
    with settings["lock"]:
        _s3(location["account"]).put_object(location["bucket"], location["key"], data)
    location["revision"] = revision


def read_artifact(artifact: dict, into: Path) -> None:
    """Unzip an artifact of the artifact bucket into ``into``; a member that would land outside it is refused."""
    with settings["lock"]:
        data = bytes(_s3(artifact["account"]).get_object(artifact["bucket"], artifact["key"]).value)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.namelist():
            target = (into / member).resolve()
            if into.resolve() not in target.parents:
                raise ArtifactError(f"artifact member {member!r} lies outside its folder")
        archive.extractall(into)
