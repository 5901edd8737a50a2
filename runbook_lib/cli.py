"""The ``runbook`` command: parse flags, load parameters, make one library call, map errors to exit codes.

Exit codes: 0 success; 1 the work ran and found problems (validation or checks
failed); 2 bad input (flags, parameters, files) or a failure to run; nothing was changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from .errors import RunbookError
from .parameters import load_app, load_org
from .render import Target, make_target, render_files, write_files

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _common_flags(parser: argparse.ArgumentParser, out_default: str = "build") -> None:
    parser.add_argument("--org", default="parameters/org.yaml", help="organization parameters (default: %(default)s)")
    parser.add_argument("--app", help="application parameters; omit to work on the common root only")
    parser.add_argument("--target", default=Target.live.value, choices=[t.value for t in Target],
                        help="live: real AWS; sandbox: the embedded emulator (default: %(default)s)")
    parser.add_argument("--out", default=out_default, help="output directory (default: %(default)s)")


def _load(args):
    org = load_org(args.org)
    app = load_app(args.app, org, args.org) if args.app else None
    return org, app


def _target(args):
    return make_target(args.target)


def cmd_render(args) -> int:
    org, app = _load(args)
    out = Path(args.out)
    report = write_files(out, render_files(org, app, _target(args)), force=args.force)
    for rel in report.written:
        console.print(f"  wrote      {out / rel}")
    for rel in report.forced:
        console.print(f"  [yellow]overwrote a hand-edited file[/] {out / rel}")
    if report.unchanged:
        console.print(f"  unchanged  {len(report.unchanged)} file(s)")
    console.print(f"Rendered {args.target} target into {out}. Next: runbook validate --org {args.org}"
                  + (f" --app {args.app}" if args.app else "") + f" --target {args.target} --out {args.out}")
    return EXIT_OK


def cmd_validate(args) -> int:
    from .validate import passed, summary, table, validate_tree

    org, app = _load(args)
    findings = validate_tree(org, app, _target(args), Path(args.out))
    console.print(table(findings))
    console.print(f"Validation: {summary(findings)}")
    return EXIT_OK if passed(findings) else EXIT_FINDINGS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runbook", description="Set up CodeBuild/CodePipeline CI/CD for EKS applications, step by step.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("render", help="write the Terraform root modules and buildspecs")
    _common_flags(p)
    p.add_argument("--force", action="store_true", help="overwrite rendered files that were edited by hand")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("validate", help="check parameters and the rendered files without touching AWS")
    _common_flags(p)
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RunbookError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)))
        return EXIT_ERROR
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
