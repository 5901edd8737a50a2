"""The sandbox server process: moto in server mode with the sandbox's patches and stand-ins applied.

Run as ``python -m runbook_lib.sandbox.serve --port N``; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import sys


# Headers every AWS SDK sends: the attempt number of a call, and an id shared by all attempts of one call.
ATTEMPT_HEADER = "amz-sdk-request"
INVOCATION_HEADER = "amz-sdk-invocation-id"
SHOWN = 80   # characters of a header value the log shows at most


def log_retries_and_drops() -> None:
    """Make the emulator's log say what a request line hides: a call the client sent again, an answer not delivered.

    A create that the SDK retries after losing its answer meets its own resource
    (``EntityAlreadyExists``); these two lines tell that apart from a real conflict.
    """
    from werkzeug.serving import WSGIRequestHandler

    request_line = WSGIRequestHandler.log_request

    def log_request(self, code="-", size="-") -> None:
        request_line(self, code, size)
        headers = getattr(self, "headers", None)
        attempt = headers.get(ATTEMPT_HEADER, "") if headers else ""
        if attempt and not attempt.startswith("attempt=1;"):
            self.log("info", "  ^ sent again by the client: %s (call %s)",
                     attempt[:SHOWN], headers.get(INVOCATION_HEADER, "?")[:SHOWN])

    def connection_dropped(self, error, environ=None) -> None:
        self.log("info", "  ^ connection lost before the whole answer was sent: %s", type(error).__name__)

    WSGIRequestHandler.log_request = log_request
    WSGIRequestHandler.connection_dropped = connection_dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runbook-sandbox-server")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    from . import emulated, moto_patches

    moto_patches.apply()
    emulated.install()   # before moto starts: its backend lookup imports moto.<service>
    log_retries_and_drops()
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", str(args.port)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
