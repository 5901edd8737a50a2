"""A picture of what the runbook builds: accounts, resources, pipeline stages and deploy targets.

Plain SVG, built from the parameters alone, so it is the same on every run and
shows in a notebook, in the HTML report and in a browser.
"""

from __future__ import annotations

from html import escape

from .parameters.models import App, Org
from .resolved import deploy_targets, resolve

_W, _ROW, _PAD = 270, 24, 12
_FONT = 'font-family="sans-serif" font-size="12"'


def _box(x: int, y: int, w: int, h: int, title: str, lines: list[str], fill: str) -> list[str]:
    out = [f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="#57606a"/>',
           f'<text x="{x + 8}" y="{y + 17}" {_FONT} font-weight="bold">{escape(title)}</text>']
    for i, line in enumerate(lines):
        out.append(f'<text x="{x + 12}" y="{y + 17 + _ROW * (i + 1)}" {_FONT}>{escape(line)}</text>')
    return out


def svg(org: Org, app: App | None = None) -> str:
    ops_lines = [f"s3 {org.artifact_bucket} (artifacts)", f"codestar connection {org.codestar_connection_name}",
                 "codebuild GitHub credential"]
    stage_lines: list[tuple[str, list[str]]] = []
    if app is not None:
        r = resolve(org, app)
        ops_lines += [f"ecr {app.ecr_repository} (+ -base)", f"codebuild {r.image_project_name}",
                      f"codebuild {r.manifests_project_name}", f"codebuild {r.deploy_project_name}"]
        for stage in r.stages:
            stage_lines.append((f"pipeline {stage.pipeline_name} ({stage.branch})",
                                ["Source > Build (Docker, Manifests) > Deploy"]
                                + [f"deploy {d.action} -> {d.cluster}" for d in stage.deployments]))
    targets = deploy_targets(org)
    accounts = list(org.accounts.workloads.items())
    ops_h = _PAD + _ROW * (len(ops_lines) + 1)
    stages_h = sum(_PAD + _ROW * (len(lines) + 1) + _PAD for _, lines in stage_lines)
    left_h = 40 + ops_h + _PAD + stages_h
    right_heights = [_PAD + _ROW * (len([t for t in targets if t.account_name == n]) + 1) for n, _ in accounts]
    right_h = 40 + sum(h + _PAD for h in right_heights)
    height = max(left_h, right_h) + _PAD
    width = 2 * _W + 140
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<text x="{_PAD}" y="22" {_FONT} font-weight="bold">Operations account {org.accounts.operations.id} ({org.region})</text>',
             f'<text x="{_W + 120}" y="22" {_FONT} font-weight="bold">Workload accounts</text>']
    parts += _box(_PAD, 34, _W, ops_h, "shared and CI resources", ops_lines, "#ddf4ff")
    y = 34 + ops_h + _PAD
    anchors_from: list[tuple[str, int]] = []
    for title, lines in stage_lines:
        h = _PAD + _ROW * (len(lines) + 1)
        parts += _box(_PAD, y, _W, h, title, lines, "#fff8c5")
        for i, line in enumerate(lines[1:]):
            anchors_from.append((line.rsplit(" -> ", 1)[1], y + 17 + _ROW * (i + 2) - 4))
        y += h + _PAD
    y = 34
    anchors_to: dict[str, int] = {}
    for (name, account), h in zip(accounts, right_heights):
        mine = [t for t in targets if t.account_name == name]
        parts += _box(_W + 120, y, _W, h, f"{name} {account.id}", [f"eks {t.cluster} ({t.region}), role {t.role_name}" for t in mine],
                      "#dafbe1")
        for i, t in enumerate(mine):
            anchors_to.setdefault(t.cluster, y + 17 + _ROW * (i + 1) - 4)
        y += h + _PAD
    for cluster, y_from in anchors_from:
        if cluster in anchors_to:
            parts.append(f'<line x1="{_PAD + _W}" y1="{y_from}" x2="{_W + 120}" y2="{anchors_to[cluster]}" '
                         'stroke="#8250df" stroke-width="1.5" marker-end="url(#arrow)"/>')
    parts.insert(1, '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto">'
                    '<path d="M0,0 L8,4 L0,8 z" fill="#8250df"/></marker></defs>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
