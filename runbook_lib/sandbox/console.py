"""The sandbox's stand-in for console steps a person performs on AWS: the connection handshake.

On AWS, a CodeStar connection created by Terraform stays PENDING until someone
opens it in the console (Developer Tools > Settings > Connections > Update pending
connection) and authorizes GitHub. In the sandbox, ``complete_handshake`` asks the
running sandbox server to make it AVAILABLE. It only ever talks to the sandbox this
user started (the recorded, checked loopback server), never to AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SandboxError
from .emulated.handshake import LAB_INJECTOR, PATH, REVOKE_PATH, STAND_IN
from .loopback import require_loopback
from .server import post_json, require_running


@dataclass(frozen=True)
class Handshake:
    name: str
    arn: str
    status: str
    note: str


def complete_handshake(account_id: str, region: str, name: str, sandbox_dir: str | None = None,
                       endpoint: str | None = None) -> Handshake:
    """Make the sandbox's connection ``name`` (or ARN) in that account and region AVAILABLE.

    ``endpoint``: a sandbox URL already known (loopback only); by default the running sandbox's.
    """
    return _post(PATH, STAND_IN, account_id, region, name, sandbox_dir, endpoint)


def revoke_handshake(account_id: str, region: str, name: str, sandbox_dir: str | None = None,
                     endpoint: str | None = None) -> Handshake:
    """The training labs' injector: the sandbox's connection ``name`` goes back to PENDING (sandbox only)."""
    return _post(REVOKE_PATH, LAB_INJECTOR, account_id, region, name, sandbox_dir, endpoint)


def _post(path: str, note: str, account_id: str, region: str, name: str, sandbox_dir: str | None,
          endpoint: str | None) -> Handshake:
    base = require_loopback(endpoint or require_running(sandbox_dir).url)
    reply = post_json(base, path, {"account": account_id, "region": region, "name": name}, 10,
                      f"the sandbox could not change the handshake of {name!r}: {{problem}}. "
                      "Apply the common root first (runbook apply), which creates the connection.",
                      f"the sandbox at {base} did not answer the handshake request")
    if reply.get("note") != note:
        raise SandboxError(f"{base} answered, but not as the sandbox's stand-in; nothing was changed.")
    connection = reply["connection"]
    return Handshake(connection["ConnectionName"], connection["ConnectionArn"], connection["ConnectionStatus"],
                     reply["note"])
