"""``make demo``: the whole runbook on the example parameters, in the embedded sandbox.

Starts the sandbox (seeded with the example accounts, clusters, state bucket and
token parameter), renders and validates every example application for the
sandbox target, applies them (common, then CI, then CD) with auto-approve, runs
the first notebook headlessly with papermill, and says where everything went.
The sandbox is stopped at the end unless KEEP_SANDBOX=1.
"""

from __future__ import annotations

import os
import sys
import time

from .cli import console, main as cli_main
from .notebook import project_root


def run() -> int:
    root = project_root()
    org = root / "parameters" / "org.yaml"
    out = root / "build" / "demo"
    apps = sorted((root / "parameters" / "apps").glob("*.yaml"))
    keep = os.environ.get("KEEP_SANDBOX") == "1"
    started = time.monotonic()

    console.rule("start the sandbox (AWS emulator on 127.0.0.1)")
    code = cli_main(["sandbox", "start", "--org", str(org)])
    if code != 0:
        return code
    try:
        for app in apps:
            for command in ("render", "validate", "apply"):
                console.rule(f"runbook {command} {app.stem} (sandbox)")
                args = [command, "--org", str(org), "--app", str(app), "--target", "sandbox", "--out", str(out)]
                if command == "apply":
                    args.append("--auto-approve")
                code = cli_main(args)
                if code != 0:
                    console.print(f"[bold red]demo stopped: runbook {command} failed for {app.stem}[/]")
                    return code

        console.rule("notebook 01-common-resources, headless (papermill)")
        import papermill

        executed = out / "notebooks" / "01-common-resources.ipynb"
        executed.parent.mkdir(parents=True, exist_ok=True)
        papermill.execute_notebook(
            str(root / "notebooks" / "01-common-resources.ipynb"), str(executed),
            parameters={"org_file": "parameters/org.yaml", "target": "sandbox", "out_dir": "build/demo"},
            cwd=str(root), progress_bar=False,
        )
    finally:
        if not keep:
            cli_main(["sandbox", "stop"])
    console.rule("done")
    console.print(f"Root modules and buildspecs: {out / 'infra'}, {out / 'repositories'}")
    console.print(f"Executed notebook: {executed}")
    console.print(f"Took {time.monotonic() - started:.0f} s. "
                  + ("The sandbox is still running: `runbook sandbox status`, `runbook sandbox stop`."
                     if keep else "The sandbox was stopped (KEEP_SANDBOX=1 keeps it for exploring)."))
    return 0


if __name__ == "__main__":
    sys.exit(run())
