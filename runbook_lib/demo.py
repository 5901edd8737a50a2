"""``make demo``: the runbook on the example parameters, start to finish, in one process.

Renders and validates every example application for the live target, then runs
the first notebook headlessly with papermill, and says where everything went.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .cli import console, main as cli_main
from .notebook import project_root


def run() -> int:
    root = project_root()
    org = root / "parameters" / "org.yaml"
    out = root / "build" / "demo"
    apps = sorted((root / "parameters" / "apps").glob("*.yaml"))
    for app in apps:
        console.rule(f"{app.name}: render and validate (live target)")
        for command in ("render", "validate"):
            code = cli_main([command, "--org", str(org), "--app", str(app), "--target", "live", "--out", str(out)])
            if code != 0:
                console.print(f"[bold red]demo stopped: runbook {command} failed for {app.name}[/]")
                return code
    console.rule("notebook 01-common-resources, headless (papermill)")
    import papermill

    executed = out / "notebooks" / "01-common-resources.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(root / "notebooks" / "01-common-resources.ipynb"), str(executed),
        parameters={"org_file": "parameters/org.yaml", "target": "live", "out_dir": "build/demo"},
        cwd=str(root), progress_bar=False,
    )
    console.print(f"Rendered root modules and buildspecs: {out / 'infra'} and {out / 'repositories'}")
    console.print(f"Executed notebook: {executed}")
    return 0


if __name__ == "__main__":
    sys.exit(run())
