"""The sandbox's stand-in for AWS CodeStar Connections, laid out as a moto service.

moto finds a service's backend by importing ``moto.<service>``; ``emulated.install()``
registers this package under ``moto.codestarconnections`` before the server starts.
"""

from .models import codestarconnections_backends  # noqa: F401
