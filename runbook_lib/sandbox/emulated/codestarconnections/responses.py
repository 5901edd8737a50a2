"""The wire side of the sandbox's CodeStar Connections stand-in (JSON 1.0, as AWS speaks it)."""

from __future__ import annotations

from moto.core.responses import ActionResult, BaseResponse, EmptyResult

from .models import CodeStarConnectionsBackend, codestarconnections_backends


class CodeStarConnectionsResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name="codestar-connections")
        self.automated_parameter_parsing = True  # parsed with botocore's model of the service

    @property
    def backend(self) -> CodeStarConnectionsBackend:
        return codestarconnections_backends[self.current_account][self.region]

    def create_connection(self) -> ActionResult:
        connection = self.backend.create_connection(
            self._get_param("ConnectionName"), self._get_param("ProviderType"), self._get_param("HostArn"),
            self._get_param("Tags"))
        result = {"ConnectionArn": connection.arn}
        if connection.tags:
            result["Tags"] = self.backend.list_tags_for_resource(connection.arn)
        return ActionResult(result)

    def get_connection(self) -> ActionResult:
        return ActionResult({"Connection": self.backend.get_connection(self._get_param("ConnectionArn")).describe()})

    def list_connections(self) -> ActionResult:
        found = self.backend.list_connections(self._get_param("ProviderTypeFilter"), self._get_param("HostArnFilter"))
        return ActionResult({"Connections": [c.describe() for c in found]})

    def delete_connection(self) -> ActionResult:
        self.backend.delete_connection(self._get_param("ConnectionArn"))
        return EmptyResult()

    def list_tags_for_resource(self) -> ActionResult:
        return ActionResult({"Tags": self.backend.list_tags_for_resource(self._get_param("ResourceArn"))})

    def tag_resource(self) -> ActionResult:
        self.backend.tag_resource(self._get_param("ResourceArn"), self._get_param("Tags") or [])
        return EmptyResult()

    def untag_resource(self) -> ActionResult:
        self.backend.untag_resource(self._get_param("ResourceArn"), self._get_param("TagKeys") or [])
        return EmptyResult()
