"""A picture of what the runbook builds: accounts, resources, pipeline stages and deploy targets.

Plain SVG, built from the parameters alone, so it is the same on every run and
shows in a notebook, in the HTML report and in a browser. Text is monospace and every
box is as wide as its longest line, so no name is cut, however long.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from .parameters.models import App, Org
from .resolved import deploy_targets, resolve

_W, _ROW, _PAD, _GAP = 270, 24, 12, 120   # narrowest box, line height, padding, gap between the columns
_FONT = 'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12"'
_CHAR = 7.5   # the advance of one character at 12 px in common monospace fonts is 7.2 px; a little to spare


def _fit(title: str, lines: list[str]) -> int:
    """The width of a box that holds its title (indent 8) and lines (indent 12), padded on the right."""
    return max(_W, max(len(title) * _CHAR + 8, *(len(line) * _CHAR + 12 for line in lines or [""])) + _PAD)


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
    right_boxes = [(f"{n} {a.id}", [f"eks {t.cluster} ({t.region}), role {t.role_name}" for t in targets
                                    if t.account_name == n]) for n, a in accounts]
    left_w = round(max([_fit("shared and CI resources", ops_lines), _fit(f"Operations account {org.accounts.operations.id} "
                                                                         f"({org.region})", [])]
                       + [_fit(title, lines) for title, lines in stage_lines]))
    right_w = round(max([_fit("Workload accounts", [])] + [_fit(title, lines) for title, lines in right_boxes]))
    right_x = _PAD + left_w + _GAP
    ops_h = _PAD + _ROW * (len(ops_lines) + 1)
    stages_h = sum(_PAD + _ROW * (len(lines) + 1) + _PAD for _, lines in stage_lines)
    left_h = 40 + ops_h + _PAD + stages_h
    right_heights = [_PAD + _ROW * (len([t for t in targets if t.account_name == n]) + 1) for n, _ in accounts]
    right_h = 40 + sum(h + _PAD for h in right_heights)
    height = max(left_h, right_h) + _PAD
    width = right_x + right_w + _PAD
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<text x="{_PAD}" y="22" {_FONT} font-weight="bold">Operations account {org.accounts.operations.id} ({org.region})</text>',
             f'<text x="{right_x}" y="22" {_FONT} font-weight="bold">Workload accounts</text>']
    parts += _box(_PAD, 34, left_w, ops_h, "shared and CI resources", ops_lines, "#ddf4ff")
    y = 34 + ops_h + _PAD
    anchors_from: list[tuple[str, int]] = []
    for title, lines in stage_lines:
        h = _PAD + _ROW * (len(lines) + 1)
        parts += _box(_PAD, y, left_w, h, title, lines, "#fff8c5")
        for i, line in enumerate(lines[1:]):
            anchors_from.append((line.rsplit(" -> ", 1)[1], y + 17 + _ROW * (i + 2) - 4))
        y += h + _PAD
    y = 34
    anchors_to: dict[str, int] = {}
    for (name, account), (title, lines), h in zip(accounts, right_boxes, right_heights):
        mine = [t for t in targets if t.account_name == name]
        parts += _box(right_x, y, right_w, h, title, lines, "#dafbe1")
        for i, t in enumerate(mine):
            anchors_to.setdefault(t.cluster, y + 17 + _ROW * (i + 1) - 4)
        y += h + _PAD
    for cluster, y_from in anchors_from:
        if cluster in anchors_to:
            parts.append(f'<line x1="{_PAD + left_w}" y1="{y_from}" x2="{right_x}" y2="{anchors_to[cluster]}" '
                         'stroke="#8250df" stroke-width="1.5" marker-end="url(#arrow)"/>')
    parts.insert(1, '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto">'
                    '<path d="M0,0 L8,4 L0,8 z" fill="#8250df"/></marker></defs>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def as_html(picture: str, label: str = "What the runbook builds") -> str:
    """The SVG as an HTML image (a data URL): JupyterLab shows it in untrusted notebooks too, where it hides SVG output."""
    return f'<img alt="{escape(label)}" style="max-width:100%" src="data:image/svg+xml,{quote(picture, safe=" ,:;=/()+-.")}"/>'
