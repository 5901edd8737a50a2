"""The sandbox's one rule about networks: it only ever talks to this machine."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from ..errors import SandboxError

_LOOPBACK_NAMES = {"localhost"}


def require_loopback(url: str) -> str:
    """Return ``url`` when its host is a loopback address; refuse anything else."""
    host = urlparse(url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host in _LOOPBACK_NAMES
    if not ok or urlparse(url).scheme not in ("http", "https"):
        raise SandboxError(
            f"refusing endpoint {url!r}: the sandbox only talks to loopback addresses (127.0.0.1, ::1, "
            "localhost), so a sandbox run can never reach real AWS."
        )
    return url
