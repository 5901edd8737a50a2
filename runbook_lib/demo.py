"""``make demo``: the whole runbook suite on the example applications, in the embedded sandbox.

Starts the sandbox (seeded with the example accounts, clusters, state bucket and
token parameter), then runs the notebooks headlessly through ``runbook run``:
00 and 01 once (preflight, common resources), then 02, 03 and 04 for every
application in parallel (render, validate, plan, apply, checks), and prints where
the report is. Then, for every application, the first pull request (its image build)
and the first merge (the first stage's pipeline, through Deploy) run in the sandbox
(``runbook pipeline``). The sandbox is stopped at the end unless KEEP_SANDBOX=1.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from .cli import console, main as cli_main
from .project import project_root


def run() -> int:
    from .sandbox import server

    root = project_root()
    keep = os.environ.get("KEEP_SANDBOX") == "1"
    started = time.monotonic()
    already = server.status() is not None   # a sandbox someone else started is left running at the end
    console.rule("start the sandbox (AWS emulator on 127.0.0.1)")
    code = cli_main(["sandbox", "start", "--org", str(root / "parameters" / "org.yaml")])
    if code != 0:
        return code
    pipelines: list[tuple[str, str, int]] = []
    try:
        console.rule("run the notebooks for every example application (runbook run)")
        code = cli_main(["run", "--org", "parameters/org.yaml", "--apps", "parameters/apps", "--target", "sandbox",
                         "--jobs", "2", "--out", str(root / "runs")])
        if code == 0 and shutil.which("bwrap") is None:
            console.rule("the first pull request and merge are SKIPPED")
            console.print("Sandbox builds run only inside bubblewrap, so that a build writes nothing outside its "
                          "folder, and bwrap is not installed: apt-get install bubblewrap, then make demo again.")
        elif code == 0:
            for app in sorted((root / "parameters" / "apps").glob("*.yaml")):
                for action in ("pull-request", "merge"):
                    console.rule(f"{app.stem}: the first {action.replace('-', ' ')} (runbook pipeline {action})")
                    done = cli_main(["pipeline", action, "--org", "parameters/org.yaml", "--app",
                                     str(app.relative_to(root)), "--target", "sandbox",
                                     "--out", str(root / "build" / "pipeline")])
                    pipelines.append((app.stem, action, done))
                    code = max(code, done)
    finally:
        if not keep and not already:
            cli_main(["sandbox", "stop"])
    console.rule("done" if code == 0 else "done, with failures")
    for app, action, done in pipelines:   # printed above phase by phase; summed up here
        console.print(f"  {app}: the first {action.replace('-', ' ')}: "
                      + ("succeeded" if done == 0 else f"FAILED (exit {done}; its cause is printed above)"))
    if keep or already:
        ending = ("The sandbox is still running" + (" (it was running before the demo)" if already else "")
                  + ": `eval \"$(.venv/bin/runbook sandbox env)\"` points the AWS CLI at it; "
                  "`runbook sandbox stop` stops it.")
    else:
        ending = "The sandbox was stopped (KEEP_SANDBOX=1 keeps it for exploring)."
    console.print(f"Took {time.monotonic() - started:.0f} s. {ending}")
    return code


if __name__ == "__main__":
    sys.exit(run())
