"""Rendering: validated parameters -> root modules and buildspecs, as files.

:func:`render_files` builds the whole tree in memory (relative path -> text,
headers included); :func:`write_files` puts it on disk, all or nothing.
"""

from __future__ import annotations

from ..parameters.models import App, Org
from ..resolved import resolve
from . import buildspecs
from .files import WriteReport, with_header, write_files
from .roots import RootModule, cd_root, ci_root, common_root
from .targets import Target


def render_roots(org: Org, app: App | None, target) -> list[RootModule]:
    """The root modules for ``target``: common always, CI and CD when an app is given."""
    roots = [common_root(target, org)]
    if app is not None:
        resolved = resolve(org, app)
        roots += [ci_root(target, resolved), cd_root(target, resolved)]
    return roots


def repository_files(org: Org, app: App) -> dict[str, str]:
    """Buildspecs that belong in the application and manifests repositories."""
    resolved = resolve(org, app)
    return {
        f"repositories/{app.source_repository}/{buildspecs.IMAGE_BUILDSPEC_PATH}": buildspecs.image_buildspec(resolved),
        f"repositories/{app.manifests_repository}/{buildspecs.MANIFESTS_BUILDSPEC_PATH}": buildspecs.manifests_buildspec(resolved),
    }


def render_files(org: Org, app: App | None, target) -> dict[str, str]:
    files: dict[str, str] = {}
    for root in render_roots(org, app, target):
        for name, body in root.files.items():
            files[f"{root.path}/{name}"] = with_header(body)
    if app is not None:
        for rel, body in repository_files(org, app).items():
            files[rel] = with_header(body, owner=app.name)   # these folders may be shared by mistake: say whose
    return files


__all__ = ["Target", "WriteReport", "render_files", "render_roots", "write_files"]
