"""The sandbox server process: moto in server mode with the sandbox's patches and stand-ins applied.

Run as ``python -m runbook_lib.sandbox.serve --port N``; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runbook-sandbox-server")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    from . import emulated, moto_patches

    moto_patches.apply()
    emulated.install()   # before moto starts: its backend lookup imports moto.<service>
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", str(args.port)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
