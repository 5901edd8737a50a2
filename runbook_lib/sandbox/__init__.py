"""The embedded AWS sandbox: moto in server mode on 127.0.0.1, seeded with what the guide assumes.

Terraform with the real AWS provider, and boto3, talk to it over HTTP exactly as
they would to AWS, through endpoints that must be loopback addresses. Services
moto lacks (CodeStar Connections, CodeBuild webhooks and source credentials)
are emulated by the sandbox server itself (``emulated/``), labelled as its
stand-ins; the console handshake of a connection is ``console.complete_handshake``.
"""

from .server import Sandbox, start, status, stop

__all__ = ["Sandbox", "start", "status", "stop"]
