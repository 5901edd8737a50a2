"""The sandbox's key: a secret each sandbox is started with, that every client of the runbook presents.

The emulator answers a request only when it carries the key: an AWS call signed with the
key as its access key id (or with credentials the emulator itself issued, through its STS,
from a call that carried it), or one of the sandbox's own requests with the key in
``KEY_HEADER``. The key lives in the emulator's environment and in ``sandbox.json``, which
only its owner can read; a browser page or another user of the machine does not have it.

This process learns a sandbox's key when it starts or finds that sandbox (``server.start``
and ``server.status`` call ``remember``); clients then ask ``key_for`` the sandbox's URL.
"""

from __future__ import annotations

import re
import secrets

# The emulator reads its key from this variable (its environment is readable by its owner only).
KEY_ENV = "RUNBOOK_SANDBOX_KEY"
# The sandbox's own requests (snapshots, events, the handshake) carry the key in this header.
KEY_HEADER = "X-Runbook-Sandbox-Key"
# What a key looks like: the shape of an AWS access key id, so that every SDK takes it as one.
KEY_PREFIX = "SBXK"
KEY_PATTERN = re.compile(KEY_PREFIX + r"[A-Z2-7]{32}")
# The secret access key clients sign with: the emulator does not check signatures, only the key id.
SIGNING_SECRET = "the-sandbox-checks-the-key-id-not-the-signature"

# What a client presents for a URL it knows no sandbox at (not a key's shape, so no sandbox takes it).
UNKNOWN = "SBXKNOSANDBOXKNOWNATTHISURL"

_known: dict[str, str] = {}


def new_key() -> str:
    """A fresh key: 160 random bits, in base32 (the characters of an access key id)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return KEY_PREFIX + "".join(secrets.choice(alphabet) for _ in range(32))


def remember(url: str, key: str) -> None:
    _known[url] = key


def key_for(url: str) -> str:
    """The key of the sandbox at ``url``, as this process learned it when it started or found that sandbox.

    For a URL this process knows no sandbox at, a key no sandbox has: a server there refuses the
    call (or nothing answers), and the caller reports that as it reports any refusal.
    """
    return _known.get(url.rstrip("/"), UNKNOWN)
