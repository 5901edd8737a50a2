"""Snapshots of the emulator's whole state: taken once, restored in a second, in this or another emulator.

Applying thoughtbot's modules from nothing takes Terraform most of a minute per root;
a snapshot of what an apply left lets a test (or a trainer resetting a class) start from
an applied sandbox without applying again. A snapshot holds every moto backend in use
(Terraform's state objects in S3 included), pickled with cloudpickle, which moto's
models need (some hold lambdas). Three kinds of object in them cannot be pickled as
they are, so they are saved as what they stand for: a lock as a new, unheld lock, and a
private key (KMS) as its DER bytes.

A restore keeps the sessions clients hold (the access keys AssumeRole handed out), so a
client made before it goes on working after it.

A snapshot file is code as much as data (unpickling runs what it names): the server
only reads one from its own sandbox folder, which only its owner can write.
"""

from __future__ import annotations

import _thread
import importlib
import io
import pickle
import sys
import threading
from collections import defaultdict
from typing import Any

SUFFIX = ".snapshot"
# A BackendDict's own attributes; any other (S3's map of bucket names to accounts) is state, and saved with it.
_OWN_ATTRIBUTES = {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}


def _load_private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(der, None)


def _private_key(key: Any) -> tuple:
    from cryptography.hazmat.primitives import serialization

    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return _load_private_key, (der,)


def _load_parameters(kind: type, items: dict, attributes: dict) -> Any:
    parameters = kind.__new__(kind)
    defaultdict.__init__(parameters, list)
    dict.update(parameters, items)
    parameters.__dict__.update(attributes)
    return parameters


def _parameters(parameters: Any) -> tuple:
    """moto's SSM ParameterDict: a defaultdict whose ``__init__`` takes an account and a region, not a factory."""
    return _load_parameters, (type(parameters), dict(parameters), dict(parameters.__dict__))


def _reducers() -> dict[type, Any]:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from moto.ssm.models import ParameterDict

    table: dict[type, Any] = {_thread.LockType: lambda _lock: (threading.Lock, ()),
                              _thread.RLock: lambda _lock: (threading.RLock, ()),
                              ParameterDict: _parameters}
    probe_keys = (rsa.generate_private_key(public_exponent=65537, key_size=1024),
                  ec.generate_private_key(ec.SECP256R1()))
    for key in probe_keys:
        table[type(key)] = _private_key
    return table


def _named_backends() -> dict[int, tuple[str, str]]:
    """Where each loaded BackendDict lives (module and attribute), by its id: the way back to it in another process."""
    from moto.core.base_backend import BackendDict

    found = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(("moto.", "runbook_lib.sandbox.emulated.")):
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, BackendDict):
                found.setdefault(id(value), (module_name, attribute))
    return found


def dumps() -> bytes:
    """Every moto backend in use, pickled (call with no request in flight)."""
    import cloudpickle
    from moto.core.base_backend import BackendDict

    names = _named_backends()
    state = [(names[id(backends)], {account: dict(regions) for account, regions in backends.items()},
              {name: value for name, value in vars(backends).items() if name not in _OWN_ATTRIBUTES})
             for backends in BackendDict._instances]

    class Pickler(cloudpickle.CloudPickler):   # the C pickler reads its dispatch table once, when made
        dispatch_table = {**cloudpickle.CloudPickler.dispatch_table, **_reducers()}

    buffer = io.BytesIO()
    Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return buffer.getvalue()


def loads(data: bytes) -> int:
    """Replace every moto backend's state with the snapshot's; returns how many services it holds."""
    from moto.core.base_backend import BackendDict

    sessions = _session_keys()
    BackendDict.reset()   # first: it closes every S3 object moto tracks, which would include the ones loaded below
    state = pickle.loads(data)
    for (module_name, attribute), accounts, extra in state:
        backends = getattr(importlib.import_module(module_name), attribute)
        for name, value in extra.items():
            setattr(backends, name, value)
        for account, regions in accounts.items():
            for region, backend in regions.items():
                dict.__setitem__(backends[account], region, backend)
    _keep_session_keys(sessions)
    return len(state)


def _session_keys() -> dict[tuple[str, str], dict]:
    """The access keys IAM knows now, by account and partition: those of the sessions clients hold (AssumeRole's)."""
    from moto.iam.models import iam_backends

    return {(account, partition): dict(backend.access_keys)
            for account, partitions in iam_backends.items() for partition, backend in partitions.items()}


def _keep_session_keys(sessions: dict[tuple[str, str], dict]) -> None:
    """A restore keeps every session a client already holds: moto finds a caller's account by its access key."""
    from moto.iam.models import iam_backends

    for (account, partition), keys in sessions.items():
        restored = iam_backends[account][partition].access_keys
        for key, value in keys.items():
            restored.setdefault(key, value)
