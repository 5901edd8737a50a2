"""The sandbox's stand-in for the console step that completes a CodeStar connection's handshake.

On AWS a new connection stays PENDING until a person opens it in the console and
authorizes the provider (for GitHub: install or pick the AWS Connector app). The
sandbox has no console and no GitHub, so its server answers one extra, sandbox-only
request instead: ``POST /runbook-sandbox/complete-handshake`` with the account,
region and connection name (or ARN) as JSON. It turns that connection AVAILABLE and
says that it is the sandbox's stand-in. Nothing on AWS answers this path.

The training labs need the opposite too: ``POST /runbook-sandbox/lab/revoke-handshake``
puts an AVAILABLE connection back to PENDING, as if nobody had completed the console
step. Its answer says that it is the lab injector's doing.
"""

from __future__ import annotations

import json
from typing import Any, Callable

PATH = "/runbook-sandbox/complete-handshake"
STAND_IN = ("sandbox stand-in for the console handshake: no GitHub app was installed and nothing was authorized; "
            "on AWS a person completes this step in the console")
REVOKE_PATH = "/runbook-sandbox/lab/revoke-handshake"
LAB_INJECTOR = "lab injector: the connection is PENDING again, as if the console handshake had never been completed"


def _reply(start_response: Callable, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def handle(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    """Answer the complete-handshake request (WSGI)."""
    return _change(environ, start_response, PATH, "complete_handshake", STAND_IN)


def handle_revoke(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    """Answer the labs' revoke-handshake request (WSGI)."""
    return _change(environ, start_response, REVOKE_PATH, "revoke_handshake", LAB_INJECTOR)


def _change(environ: dict[str, Any], start_response: Callable, path: str, operation: str, note: str) -> list[bytes]:
    from moto.core.exceptions import ServiceException

    from .codestarconnections.models import codestarconnections_backends

    if environ.get("REQUEST_METHOD") != "POST":
        return _reply(start_response, "405 Method Not Allowed", {"error": f"{path} takes POST"})
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        account, region, name = (str(request[key]) for key in ("account", "region", "name"))
    except (ValueError, KeyError, TypeError):
        return _reply(start_response, "400 Bad Request",
                      {"error": 'the body must be JSON: {"account": ..., "region": ..., "name": ...}'})
    if not (account.isdigit() and len(account) == 12):
        return _reply(start_response, "400 Bad Request", {"error": f"account {account!r} is not a 12-digit account id"})
    try:
        connection = getattr(codestarconnections_backends[account][region], operation)(name)
    except ServiceException as exc:
        return _reply(start_response, "404 Not Found", {"error": exc.message})
    except KeyError:
        return _reply(start_response, "400 Bad Request", {"error": f"region {region!r} is not a known AWS region"})
    return _reply(start_response, "200 OK", {"connection": connection.describe(), "note": note})


def route(original: Callable) -> Callable:
    """Wrap moto's dispatcher so that the sandbox-only paths reach their handlers; everything else goes on to moto."""
    handlers = {PATH: handle, REVOKE_PATH: handle_revoke}

    def dispatch(self: Any, environ: dict[str, Any], start_response: Callable) -> Any:
        handler = handlers.get(environ.get("PATH_INFO"))
        if handler is not None:
            return handler(environ, start_response)
        return original(self, environ, start_response)

    dispatch.runbook_sandbox_route = True  # type: ignore[attr-defined]
    return dispatch
