"""CodeStar Connections: the sandbox's stand-in for the service moto does not have.

Data and rules only; ``responses.py`` speaks the wire. What it holds per account
and region: connections (name, provider type, status, tags). The rules copied from
AWS are the ones a user trips on: a name of 1-32 characters, a known provider type,
at most 200 tags, ResourceNotFoundException for an ARN it does not hold. A new
connection is PENDING, as on AWS, until a person completes the provider's handshake;
in the sandbox ``complete_handshake`` stands in for that console step.

Connection ARNs end in an id that AWS makes random. Here it is derived from the
account, region, name and how many connections of that name came before, so a
fresh sandbox gives the same ARNs every time (recorded notebook outputs stay stable).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from moto.core.base_backend import BackendDict, BaseBackend

from .exceptions import LimitExceededException, ResourceNotFoundException, ValidationException

PROVIDER_TYPES = ("Bitbucket", "GitHub", "GitHubEnterpriseServer", "GitLab", "GitLabSelfManaged")
NAME_MIN, NAME_MAX = 1, 32
MAX_TAGS = 200
STATUSES = ("PENDING", "AVAILABLE", "ERROR")
# The namespace the sandbox derives connection ids in (a fixed, arbitrary UUID).
_ID_NAMESPACE = uuid.UUID("5a1d0b0c-2f6e-4c2a-9e51-6b1a0c0de5a1")


@dataclass
class Connection:
    arn: str
    name: str
    provider_type: str
    owner_account_id: str
    host_arn: str | None = None
    status: str = "PENDING"
    tags: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict:
        out = {"ConnectionName": self.name, "ConnectionArn": self.arn, "ProviderType": self.provider_type,
               "OwnerAccountId": self.owner_account_id, "ConnectionStatus": self.status}
        if self.host_arn:
            out["HostArn"] = self.host_arn
        return out


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


class CodeStarConnectionsBackend(BaseBackend):
    """One account and region of the sandbox's CodeStar Connections stand-in."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.connections: dict[str, Connection] = {}
        self._created_per_name: dict[str, int] = {}

    # -- rules --------------------------------------------------------------------
    @staticmethod
    def _check_name(name: str | None) -> str:
        if not isinstance(name, str) or not NAME_MIN <= len(name) <= NAME_MAX:
            length = len(name) if isinstance(name, str) else 0
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at 'connectionName' failed to satisfy constraint: "
                f"Member must have length less than or equal to {NAME_MAX} and greater than or equal to "
                f"{NAME_MIN} (it has {length})")
        return name

    @staticmethod
    def _check_provider(provider_type: str | None, host_arn: str | None) -> str:
        if provider_type is None and host_arn is None:
            raise ValidationException("ProviderType or HostArn must be specified")
        if provider_type is not None and provider_type not in PROVIDER_TYPES:
            raise ValidationException(
                f"1 validation error detected: Value '{provider_type}' at 'providerType' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(PROVIDER_TYPES)}]")
        return provider_type or "GitHubEnterpriseServer"

    @staticmethod
    def _check_tags(tags: dict[str, str]) -> None:
        if len(tags) > MAX_TAGS:
            raise LimitExceededException(f"a resource can have at most {MAX_TAGS} tags, not {len(tags)}")

    def _arn(self, name: str) -> str:
        count = self._created_per_name.get(name, 0)
        seed = f"{self.account_id}/{self.region_name}/{name}/{count}"
        return (f"arn:{self.partition}:codestar-connections:{self.region_name}:{self.account_id}:"
                f"connection/{uuid.uuid5(_ID_NAMESPACE, seed)}")

    def get(self, arn: str) -> Connection:
        connection = self.connections.get(arn)
        if connection is None:
            raise ResourceNotFoundException(f"Connection {arn} does not exist")
        return connection

    # -- operations ---------------------------------------------------------------
    def create_connection(self, name: str, provider_type: str | None, host_arn: str | None,
                          tags: list[dict[str, str]] | None) -> Connection:
        self._check_name(name)
        provider = self._check_provider(provider_type, host_arn)
        tag_map = {t["Key"]: t.get("Value", "") for t in tags or []}
        self._check_tags(tag_map)
        arn = self._arn(name)
        self._created_per_name[name] = self._created_per_name.get(name, 0) + 1
        connection = Connection(arn, name, provider, self.account_id, host_arn, tags=tag_map)
        self.connections[arn] = connection
        return connection

    def get_connection(self, arn: str) -> Connection:
        return self.get(arn)

    def list_connections(self, provider_type: str | None = None, host_arn: str | None = None) -> list[Connection]:
        return [c for c in self.connections.values()
                if (provider_type is None or c.provider_type == provider_type)
                and (host_arn is None or c.host_arn == host_arn)]

    def delete_connection(self, arn: str) -> None:
        self.get(arn)
        del self.connections[arn]

    def list_tags_for_resource(self, arn: str) -> list[dict[str, str]]:
        return _tag_list(self.get(arn).tags)

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        connection = self.get(arn)
        merged = {**connection.tags, **{t["Key"]: t.get("Value", "") for t in tags}}
        self._check_tags(merged)
        connection.tags = merged

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        connection = self.get(arn)
        for key in keys:
            connection.tags.pop(key, None)

    # -- the sandbox's stand-in for the console step ------------------------------
    def _named(self, name_or_arn: str) -> list[Connection]:
        matches = [c for c in self.connections.values() if name_or_arn in (c.arn, c.name)]
        if not matches:
            raise ResourceNotFoundException(
                f"no connection named {name_or_arn!r} in account {self.account_id}, {self.region_name}")
        return matches

    def _move(self, name_or_arn: str, before: str, after: str) -> Connection:
        """Every connection of that name or ARN in status ``before`` goes to ``after``; the last one is returned."""
        matches = self._named(name_or_arn)
        for connection in matches:
            if connection.status == before:
                connection.status = after
        return matches[-1]

    def complete_handshake(self, name_or_arn: str) -> Connection:
        """PENDING -> AVAILABLE, as a person's handshake in the AWS console does on live."""
        return self._move(name_or_arn, "PENDING", "AVAILABLE")

    def revoke_handshake(self, name_or_arn: str) -> Connection:
        """AVAILABLE -> PENDING: the training labs' fault of a handshake nobody completed."""
        return self._move(name_or_arn, "AVAILABLE", "PENDING")


codestarconnections_backends = BackendDict(CodeStarConnectionsBackend, "codestar-connections")
