"""The ``runbook`` command: parse flags, load parameters, make one engine call, map results to exit codes.

Exit codes: 0 success; 1 the work ran and found problems (validation, checks or a
batch step failed); 2 bad input (flags, parameters, files) or a stop before
anything was changed; 3 stopped part-way after changes were made (the message
lists them); 130 interrupted before anything was changed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from rich.console import Console
from rich.text import Text

from .batch.kernels import DEFAULT_NOTEBOOK_TIMEOUT
from .errors import RunbookError
from .parameters import load_app, load_org
from .render import Target

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# markup off: what is printed holds values from parameters, paths and AWS ("hotfix[/]" is a branch name)
console = Console(highlight=False, markup=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


def _common_flags(parser: argparse.ArgumentParser, target_default: str = Target.live.value) -> None:
    parser.add_argument("--org", default="parameters/org.yaml", help="organization parameters (default: %(default)s)")
    parser.add_argument("--app", help="application parameters; omit to work on the common root only")
    parser.add_argument("--target", default=target_default, choices=[t.value for t in Target],
                        help="live: real AWS; sandbox: the embedded emulator (default: %(default)s)")
    parser.add_argument("--out", default="build", help="output directory (default: %(default)s)")


def _load(args):
    org = load_org(args.org)
    app = load_app(args.app, org, args.org) if args.app else None
    return org, app


def cmd_render(args) -> int:
    out = Path(args.out)
    report = _engine(args, *_load(args)).render(force=args.force)
    for rel in report.written:
        console.print(f"  wrote      {out / rel}")
    for rel in report.forced:
        console.print(Text.assemble("  ", ("overwrote a hand-edited file", "yellow"), f" {out / rel}"))
    if report.unchanged:
        console.print(f"  unchanged  {len(report.unchanged)} file(s)")
    console.print(f"Rendered {args.target} target into {out}. Next: runbook validate --org {args.org}"
                  + (f" --app {args.app}" if args.app else "") + f" --target {args.target} --out {args.out}")
    return EXIT_OK


def cmd_validate(args) -> int:
    from .validate import passed, summary, table

    findings = _engine(args, *_load(args)).validate(terraform=not args.static_only)
    console.print(table(findings))
    console.print(f"Validation: {summary(findings)}")
    return EXIT_OK if passed(findings) else EXIT_FINDINGS


def _confirm(summary) -> bool:
    answer = console.input(f"Apply the plan for {summary.root}? Type 'yes' to approve: ")
    return answer.strip().lower() == "yes"


def _engine(args, org, app):
    from .engine import Engine, Settings
    from .terraform.plan import table as plan_table

    auto_approve = getattr(args, "auto_approve", False)
    settings = Settings(org, app, target=args.target, out=Path(args.out), auto_approve=auto_approve,
                        allow_destroy=getattr(args, "allow_destroy", False), stage=getattr(args, "stage", None))
    return Engine(settings, sink=lambda line: console.print(Text(line)),
                  show_plan=lambda summary: console.print(plan_table(summary)),
                  confirm=_confirm if sys.stdin.isatty() and not auto_approve else None)


def _print_results(results) -> None:
    from rich.table import Table

    out = Table(title="Result")
    for column in ("Root", "Outcome", "Changes", "Seconds"):
        out.add_column(column)
    for r in results:
        out.add_row(r.root, r.outcome.value, r.headline.split(": ", 1)[-1], f"{r.seconds:.1f}")
    console.print(out)


def _run_roots(work) -> int:
    from .engine import RunStopped

    try:
        results = work()
    except RunStopped as stop:
        _print_results(stop.results)
        err_console.print(Text.assemble(("error: " if not stop.interrupted else "interrupted: ", "bold red"), str(stop)))
        if stop.changed:
            return EXIT_PARTIAL
        return EXIT_INTERRUPTED if stop.interrupted else EXIT_ERROR
    _print_results(results)
    for r in results:
        for name, value in r.outputs.items():
            console.print(Text(f"  {r.root}.{name} = {value}"))
    return EXIT_OK


def cmd_apply(args) -> int:
    engine = _engine(args, *_load(args))
    return _run_roots(engine.apply_all)


def cmd_destroy(args) -> int:
    engine = _engine(args, *_load(args))
    return _run_roots(lambda: engine.destroy_all(include_common=args.include_common))


def cmd_unlock(args) -> int:
    _engine(args, *_load(args)).unlock(args.root, args.lock_id)
    return EXIT_OK


def cmd_sandbox(args) -> int:
    from . import sandbox

    if args.action == "start":
        running = sandbox.start(port=args.port)
        console.print(f"sandbox running at {running.url} (pid {running.pid}, log {running.log})")
        if args.org:
            from .sandbox.seed import seed

            report = seed(load_org(args.org), running.url)
            for line in report.created:
                console.print(Text(f"  seeded {line}"))
        console.print(running.url)
        return EXIT_OK
    if args.action == "complete-handshake":
        return _complete_handshake(args)
    if args.action == "env":
        return _sandbox_env(args)
    if args.name is not None:
        raise RunbookError(f"`runbook sandbox {args.action}` takes no name ({args.name!r}); only complete-handshake does.")
    if args.action == "status":
        running = sandbox.status()
        if running is None:
            console.print("sandbox is not running")
            return EXIT_FINDINGS
        console.print(f"sandbox running at {running.url} (pid {running.pid}, log {running.log})")
        console.print(running.url)
        return EXIT_OK
    console.print("sandbox stopped" if sandbox.stop() else "sandbox was not running")
    return EXIT_OK


def _sandbox_env(args) -> int:
    """Shell lines that point the AWS CLI at the running sandbox, in one account (the Terraform role's credentials)."""
    import shlex

    from .sandbox.clients import CLEARED_ENV, SandboxSessions, sandbox_env
    from .sandbox.server import require_running

    if args.name is not None:
        raise RunbookError(f"`runbook sandbox env` takes no name ({args.name!r}); use --account for the account.")
    org = load_org(args.org or "parameters/org.yaml")
    account = args.account or org.accounts.operations.id
    known = {org.accounts.operations.id, *(w.id for w in org.accounts.workloads.values())}
    if account not in known:
        raise RunbookError(f"--account {account!r} is not an account of {args.org or 'parameters/org.yaml'} "
                           f"(one of {', '.join(sorted(known))})")
    running = require_running()
    credentials = SandboxSessions(running.url, org.region, org.terraform_role_name).session(account) \
        .get_credentials().get_frozen_credentials()
    env = {name: value for name, value in sandbox_env().items() if value and name not in CLEARED_ENV}
    env.update(AWS_ENDPOINT_URL=running.url, AWS_REGION=org.region, AWS_DEFAULT_REGION=org.region,
               AWS_ACCESS_KEY_ID=credentials.access_key, AWS_SECRET_ACCESS_KEY=credentials.secret_key,
               AWS_SESSION_TOKEN=credentials.token)
    lines = [f"# the sandbox at {running.url}, account {account} (role {org.terraform_role_name}); "
             "these credentials open nothing outside it",
             "unset " + " ".join(name for name in CLEARED_ENV if name != "AWS_SESSION_TOKEN" and name != "AWS_ENDPOINT_URL")]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def cmd_pipeline(args) -> int:
    """The first pull request and the first merge: on the sandbox, made and followed; on live, the git steps."""
    org, app = _load(args)
    if app is None:
        raise RunbookError(f"`runbook pipeline {args.action}` needs --app (the application whose pipeline to run)")
    engine = _engine(args, org, app)
    if args.target == Target.live.value and args.action == "pull-request" and not args.source_version:
        steps = engine.pipeline_live_steps()
        console.print("On live the runbook does not push to your repositories. Put the image buildspec in place:")
        for step in steps:
            console.print(Text(f"  {step}"))
        console.print("The image project's webhook then starts a build for the pull request; merging it into a "
                      "stage's branch starts that stage's pipeline. To start (and follow) a build yourself: "
                      "--source-version pr/N --auto-approve.")
        return EXIT_OK
    run = engine.pipeline(args.action, limit=args.limit, progress=lambda line: console.print(Text(line)),
                          source_version=args.source_version)
    if run.nothing_started:
        console.print(Text(run.nothing_started))
        return EXIT_FINDINGS
    for view in run.builds:
        cause = view.cause()
        console.print(Text(f"build {view.id}: {view.status}" + (f" ({cause})" if cause else "")
                           + (f", source {view.source_version} at {view.resolved[:12]}" if view.resolved else "")))
    for execution in run.executions:
        console.print(Text(f"pipeline {execution.pipeline} execution {execution.id}: {execution.status}"
                           + (f" ({execution.summary})" if execution.summary else "")))
    for diagnosis in run.causes:
        _explain(diagnosis)
    if run.still_running:
        console.print(f"still running after {args.limit:.0f} s; it goes on in the sandbox")
    return EXIT_OK if run.succeeded else EXIT_FINDINGS


def _explain(diagnosis) -> None:
    if diagnosis is None:
        console.print("cause: not one the runbook knows; read the log lines above")
        return
    cause, remedy = diagnosis
    console.print(Text(f"cause: {cause}"))
    console.print(Text(f"remedy: {remedy}"))


def cmd_modules(args) -> int:
    from . import module_mirror

    org = load_org(args.org)
    dest = Path(args.dir)
    console.print(f"Module mirror {dest}, from {args.source}:")
    missing = module_mirror.build(dest, org, args.source, sink=lambda line: console.print(Text(line)))
    if missing:
        console.print(Text(f"{len(missing)} pinned commit(s) are not in the mirror: "
                           + ", ".join(f"{m.path}@{m.commit[:7]}" for m in missing)))
        return EXIT_FINDINGS
    console.print(f"Every pinned commit is there. Use it with: export RUNBOOK_TF_MODULE_MIRROR={dest.resolve()}")
    return EXIT_OK


def _complete_handshake(args) -> int:
    """The sandbox's stand-in for the console step that makes a PENDING connection AVAILABLE."""
    from .sandbox.console import complete_handshake

    org = load_org(args.org or "parameters/org.yaml")
    name = args.name or org.codestar_connection_name
    done = complete_handshake(org.accounts.operations.id, org.region, name)
    console.print(Text(f"sandbox stand-in: the handshake of connection {done.name} is complete; it is now "
                       f"{done.status} ({done.arn})."))
    console.print(Text(f"  {done.note}."))
    return EXIT_OK


def _json_file(value: str | None) -> Path | None:
    """Where ``--json`` writes, refused before any check runs when it cannot be a file we write."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        raise RunbookError(f"--json {value} is a folder; give a file path such as {path / 'checks.json'}. "
                           "No check was run.")
    folder = next(p for p in (path.parent, *path.parent.parents) if p.exists())  # the nearest that exists
    if not folder.is_dir():
        raise RunbookError(f"--json {value} cannot be written: {folder} is a file, not a folder. No check was run.")
    writable = os.access(path, os.W_OK) if path.exists() else os.access(folder, os.W_OK | os.X_OK)
    if not writable:
        raise RunbookError(f"--json {value} cannot be written: permission denied on {path if path.exists() else folder}. "
                           "No check was run.")
    return path


def _write_json(path: Path, text: str) -> None:
    from .render.files import write_text_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, text)
    except OSError as exc:
        raise RunbookError(f"the results above were not saved: cannot write {exc.filename or path} "
                           f"({exc.strerror or exc}).") from exc


def cmd_check(args) -> int:
    from . import checks
    from .engine import Engine, Settings

    json_file = _json_file(args.json)   # before the checks: they can take minutes
    org, app = _load(args)
    engine = Engine(Settings(org, app, target=args.target))
    if hasattr(engine.clients, "caller_account"):
        engine.clients.caller_account()  # no credentials at all: one clear error instead of a table of failures
    report = engine.check(args.phase, title=f"{args.phase} checks ({args.target})")
    console.print(checks.table(list(report.results), title=report.title))
    console.print(f"Checks: {checks.summary(list(report.results))}")
    if json_file:
        _write_json(json_file, checks.to_json(list(report.results)))
        console.print(f"JSON written to {json_file}")
    return EXIT_OK if report.ok else EXIT_FINDINGS


def cmd_run(args) -> int:
    from .batch import run_batch

    run_dir, results, interrupted = run_batch(args.org, args.apps, stage=args.stage, target=args.target,
                                              jobs=args.jobs, out=args.out, auto_approve=args.auto_approve,
                                              executor=args.executor, scheduler=args.scheduler,
                                              allow_plaintext_scheduler=args.allow_plaintext_scheduler,
                                              notebook_timeout=args.notebook_timeout,
                                              progress=lambda line: console.print(Text(line)))
    console.print(f"Run folder: {run_dir}")
    console.print(f"Report: {run_dir / 'report.html'}")
    for r in results:
        for problem in r.problems():
            console.print(Text.assemble((f"NOT healthy: {r.label}: ", "bold red"), problem))
    if interrupted:
        changed = [r.label for r in results if r.changed]
        err_console.print("interrupted: " + (f"changes were made for {', '.join(changed)} (see the report)"
                                             if changed else "nothing was changed in AWS"))
        return EXIT_PARTIAL if changed else EXIT_INTERRUPTED
    return EXIT_OK if all(r.healthy for r in results) else EXIT_FINDINGS


def _where(args):
    from .labs import Where

    return Where(args.org, args.app, args.target, args.out)


def cmd_lab_list(args) -> int:
    from . import labs

    for item in labs.listing(_where(args) if args.out else None):
        console.print(Text(f"  {'done ' if item.passed else '     '}{item.name:<28} {item.section:<24} {item.title}"))
    console.print("Start one with: runbook lab start NAME --app parameters/apps/web.yaml (in a sandbox where "
                  "the suite is applied: `runbook apply`, then `runbook sandbox complete-handshake`).")
    return EXIT_OK


def cmd_lab_start(args) -> int:
    from . import labs

    started = labs.start(_where(args), args.name)
    console.print(Text(started.injected))
    console.print(Text(f"Lab {started.lab}: {started.title} (guide: {started.section})"))
    console.print(Text(f"A colleague writes: \"{started.symptom}\""))
    console.print("Find the cause with the suite (runbook check, plan, the notebooks), fix it with the runbook's own "
                  "commands, then run `runbook lab check`. `runbook lab hint` reveals one step at a time.")
    return EXIT_OK


def cmd_lab_hint(args) -> int:
    from . import labs

    shown = labs.hint(_where(args))
    console.print(Text(f"Hint {shown.number}/{shown.total} for {shown.lab}: {shown.text}"))
    if shown.exhausted:
        console.print("That was the last hint.")
    return EXIT_OK


def cmd_lab_check(args) -> int:
    from . import labs

    graded = labs.check(_where(args))
    timing = f"{graded.hints} hint(s), {graded.seconds / 60:.1f} min, grade asked {graded.checks} time(s)"
    if graded.passed:
        console.print(Text(f"PASSED {graded.lab}: {timing}. What it was: {graded.fault}"))
        return EXIT_OK
    console.print(Text(f"NOT YET {graded.lab} ({timing}):"))
    for problem in graded.problems:
        console.print(Text(f"  - {problem}"))
    return EXIT_FINDINGS


def cmd_lab_reset(args) -> int:
    from . import labs

    done = labs.reset(_where(args), say=lambda line: console.print(Text(line)))
    for step in done.steps:
        console.print(Text(f"  restored: {step}"))
    console.print(Text(f"Lab {done.lab} is closed (recorded as reset); the sandbox is back in the applied state."))
    return EXIT_OK


def cmd_lab_report(args) -> int:
    from .labs import report

    console.print(f"Report written to {report.write(args.out, args.html)}")
    return EXIT_OK


def cmd_lab(args) -> int:
    from . import lab
    from .project import project_root

    notebooks = Path(args.notebooks) if args.notebooks else None
    # Ctrl-C stops the lab, even when started from a shell that had SIGINT ignored (`make lab &`, nohup)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return lab.run(project_root(), port=args.port, org_file=args.org, notebooks=notebooks,
                   say=lambda line: console.print(Text(line)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runbook", description="Set up CodeBuild/CodePipeline CI/CD for EKS applications, step by step.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("render", help="write the Terraform root modules and buildspecs")
    _common_flags(p)
    p.add_argument("--force", action="store_true", help="overwrite rendered files that were edited by hand")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("validate", help="check parameters and the rendered files without touching AWS")
    _common_flags(p)
    p.add_argument("--static-only", action="store_true",
                   help="skip Terraform's own init -backend=false and validate of each root")
    p.set_defaults(func=cmd_validate)

    for name, func, help_text in (
        ("apply", cmd_apply, "plan and apply common, then CI, then CD, each through the approval gate"),
        ("destroy", cmd_destroy, "destroy an app's CD then CI root (and the common root on request), each through the gate"),
    ):
        p = sub.add_parser(name, help=help_text)
        _common_flags(p, target_default=Target.sandbox.value)
        p.add_argument("--auto-approve", action="store_true",
                       help="approve plans without asking (batch runs); deletes still need --allow-destroy")
        if name == "apply":
            p.add_argument("--allow-destroy", action="store_true",
                           help="allow plans that delete or replace resources")
        else:
            p.add_argument("--include-common", action="store_true",
                           help="with --app, also destroy the common root (shared by every application)")
        p.set_defaults(func=func)

    p = sub.add_parser("unlock", help="release a root's state lock left by a run that was killed")
    p.add_argument("root", help="the root named in the lock error: cicd-common, ci/APP or cd/APP")
    p.add_argument("lock_id", help="the lock ID the error printed")
    _common_flags(p, target_default=Target.sandbox.value)
    p.set_defaults(func=cmd_unlock)

    p = sub.add_parser("check", help="read-only boto3 checks before (preflight) and after (postflight) applying")
    p.add_argument("--org", default="parameters/org.yaml", help="organization parameters (default: %(default)s)")
    p.add_argument("--app", help="application parameters; omit to check the common resources only")
    p.add_argument("--target", default=Target.sandbox.value, choices=[t.value for t in Target],
                   help="sandbox or live (default: %(default)s)")
    p.add_argument("--phase", default="all", choices=["preflight", "postflight", "all"])
    p.add_argument("--json", help="also write the results as JSON to this file (refused before any check "
                   "runs if it is a folder or cannot be written)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("run", help="run the notebooks headlessly for every application and write a report")
    p.add_argument("--org", default="parameters/org.yaml", help="organization parameters (default: %(default)s)")
    p.add_argument("--apps", nargs="+", default=["parameters/apps"], help="application files or folders (default: %(default)s)")
    p.add_argument("--stage", help="focus the CD checks on this stage (every app must have it)")
    p.add_argument("--target", default=Target.sandbox.value, choices=[t.value for t in Target])
    p.add_argument("--jobs", type=int, help="applications run in parallel (default: 1 on the local pool; "
                   "with dask, as many as the cluster's workers take)")
    p.add_argument("--executor", default="local", help="where jobs run: local (a process pool, the default) or dask")
    p.add_argument("--scheduler", help="the Dask scheduler's address, tcp://127.0.0.1:8786 or tls://HOST:8786 "
                   "(default: $RUNBOOK_DASK_SCHEDULER)")
    p.add_argument("--allow-plaintext-scheduler", action="store_true",
                   help="accept a scheduler on another machine without TLS (whoever reaches it runs code on the "
                        "workers, which hold the AWS credentials)")
    p.add_argument("--notebook-timeout", type=float, default=DEFAULT_NOTEBOOK_TIMEOUT,
                   help="wall limit of each notebook in seconds; past it the notebook is interrupted "
                   "(default: %(default)g)")
    p.add_argument("--out", help="folder for the run folder (default: runs/)")
    p.add_argument("--auto-approve", action="store_true", help="approve plans on live too (deletes still stop)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("lab", help="JupyterLab on the notebooks, with the sandbox started and seeded (Ctrl-C stops both)")
    p.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default: %(default)s)")
    p.add_argument("--org", default="parameters/org.yaml", help="organization parameters the sandbox is seeded from "
                   "(default: %(default)s)")
    p.add_argument("--notebooks", help="folder of notebooks to open (default: the project's notebooks/)")
    p.set_defaults(func=cmd_lab)
    labs = p.add_subparsers(dest="lab_action", metavar="ACTION",
                            description="training labs in the sandbox; without an action, JupyterLab starts")
    q = labs.add_parser("list", help="the labs, with the guide section each teaches")
    q.add_argument("--out", help="also mark the labs passed in this output folder's progress")
    q.set_defaults(func=cmd_lab_list, org="parameters/org.yaml", app=None, target=Target.sandbox.value)
    for name, func, help_text in (
        ("start", cmd_lab_start, "inject one lab's fault into the sandbox and report its symptom"),
        ("hint", cmd_lab_hint, "reveal one more hint for the open lab"),
        ("check", cmd_lab_check, "grade the open lab: fault gone, nothing else broken or replaced"),
        ("reset", cmd_lab_reset, "put the applied state back and close the open lab"),
    ):
        q = labs.add_parser(name, help=help_text)
        if name == "start":
            q.add_argument("name", help="the lab (see `runbook lab list`)")
        _common_flags(q, target_default=Target.sandbox.value)
        q.set_defaults(func=func)
    q = labs.add_parser("report", help="write the trainer's HTML page of this output folder's progress")
    q.add_argument("--out", default="build", help="output folder whose labs/progress.json to read (default: %(default)s)")
    q.add_argument("--html", help="where to write the page (default: OUT/labs/report.html)")
    q.set_defaults(func=cmd_lab_report)

    p = sub.add_parser("sandbox", help="start, show or stop the embedded AWS emulator; complete a connection's "
                       "handshake in it (the sandbox's stand-in for the console step)")
    p.add_argument("action", choices=["start", "status", "stop", "complete-handshake", "env"],
                   help="env prints the variables that point the AWS CLI at the sandbox, in an account: "
                        'eval "$(runbook sandbox env)"')
    p.add_argument("name", nargs="?", help="complete-handshake: the connection's name (default: "
                   "codestar_connection_name of --org)")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--account", help="env: the account to reach (default: the Operations account of --org)")
    p.add_argument("--org", help="start: seed the accounts, clusters, state bucket and token parameter from this "
                   "org.yaml; complete-handshake: the organization whose connection it is (default: parameters/org.yaml)")
    p.set_defaults(func=cmd_sandbox)

    p = sub.add_parser("pipeline", help="the first pull request (image build) and the first merge (the first stage's "
                                        "pipeline) in the sandbox, followed to their end; on live, the git steps")
    p.add_argument("action", choices=["pull-request", "merge"])
    _common_flags(p, target_default=Target.sandbox.value)
    p.add_argument("--limit", type=float, default=600.0, help="seconds to follow the builds (default: %(default)s)")
    p.add_argument("--source-version", help="live: what the image project builds (pr/N, a branch or a commit); "
                   "without it, pull-request on live prints the git steps")
    p.add_argument("--stage", help="merge on live: the stage whose pipeline to start (default: the first)")
    p.add_argument("--auto-approve", action="store_true",
                   help="live: approve StartBuild or StartPipelineExecution for this run (as for an apply)")
    p.set_defaults(func=cmd_pipeline)
    p = sub.add_parser("modules", help="build a local mirror of the pinned upstream module repositories")
    p.add_argument("action", choices=["mirror"])
    p.add_argument("dir", help="the mirror folder (bare repositories laid out as on GitHub); created if missing")
    p.add_argument("--from", dest="source", default="https://github.com/",
                   help="where to fetch from: GitHub (default: %(default)s), or another mirror folder")
    p.add_argument("--org", default="parameters/org.yaml",
                   help="organization parameters whose pinned commits must be there (default: %(default)s)")
    p.set_defaults(func=cmd_modules)
    return parser


def _terminate_as_interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt  # SIGTERM and SIGHUP stop a run the way Ctrl-C does: Terraform gets SIGINT


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .stopping import TERMINATING

    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, _terminate_as_interrupt) for signum in TERMINATING}
    try:
        return args.func(args)
    except RunbookError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)))
        return EXIT_ERROR
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:   # a folder that cannot be made or written (HOME, --out, the sandbox's folder)
        where = f" {exc.filename}" if exc.filename else ""
        err_console.print(Text.assemble(("error: ", "bold red"), f"cannot use{where}: {exc.strerror or exc}. "
                                        "Point HOME, --out or RUNBOOK_SANDBOX_DIR at a folder you can write."))
        return EXIT_ERROR
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
