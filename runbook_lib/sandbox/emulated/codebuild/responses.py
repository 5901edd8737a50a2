"""The wire side of the sandbox's CodeBuild stand-in operations.

These methods join moto's own ``CodeBuildResponse`` (``emulated.install()`` adds
them), so they arrive through moto's CodeBuild endpoint and its request parsing.
"""

from __future__ import annotations

from moto.core.responses import ActionResult

from .models import CodeBuildEmulatedBackend, codebuild_emulated_backends


class CodeBuildEmulatedResponses:
    """Operations moto's CodeBuildResponse lacks; each becomes a method of it."""

    @property
    def emulated_backend(self) -> CodeBuildEmulatedBackend:
        return codebuild_emulated_backends[self.current_account][self.region]

    def import_source_credentials(self) -> ActionResult:
        credential = self.emulated_backend.import_source_credentials(
            self._get_param("token"), self._get_param("serverType"), self._get_param("authType"),
            self._get_param("username"), self._get_param("shouldOverwrite"))
        return ActionResult({"arn": credential.arn})

    def list_source_credentials(self) -> ActionResult:
        infos = [c.describe() for c in self.emulated_backend.list_source_credentials()]
        return ActionResult({"sourceCredentialsInfos": infos})

    def delete_source_credentials(self) -> ActionResult:
        return ActionResult({"arn": self.emulated_backend.delete_source_credentials(self._get_param("arn"))})

    def create_webhook(self) -> ActionResult:
        webhook = self.emulated_backend.create_webhook(
            self._get_param("projectName"), self._get_param("branchFilter"), self._get_param("filterGroups"),
            self._get_param("buildType"))
        return ActionResult({"webhook": webhook})

    def update_webhook(self) -> ActionResult:
        webhook = self.emulated_backend.update_webhook(
            self._get_param("projectName"), self._get_param("branchFilter"), self._get_param("filterGroups"),
            self._get_param("buildType"), self._get_param("rotateSecret"))
        return ActionResult({"webhook": webhook})

    def delete_webhook(self) -> ActionResult:
        self.emulated_backend.delete_webhook(self._get_param("projectName"))
        return ActionResult({})


OPERATIONS = ("import_source_credentials", "list_source_credentials", "delete_source_credentials",
              "create_webhook", "update_webhook", "delete_webhook")


class CodeBuildBuildResponses:
    """StartBuild, BatchGetBuilds and StopBuild for builds the sandbox runs for real (``builds.py``).

    They replace moto's own, whose builds never run and read SUCCEEDED.
    """

    def start_build(self) -> ActionResult:
        from . import builds

        record = builds.start(self.codebuild_backend, self._get_param("projectName"), self._get_param("sourceVersion"),
                              self._get_param("environmentVariablesOverride"), initiator=f"sandbox/{self.current_account}",
                              timeout_minutes=self._get_param("timeoutInMinutesOverride"))
        return ActionResult({"build": record})

    def batch_get_builds(self) -> ActionResult:
        from . import builds

        found, missing = builds.describe(self.codebuild_backend, self._get_param("ids") or [])
        return ActionResult({"builds": found, "buildsNotFound": missing})

    def stop_build(self) -> ActionResult:
        from . import builds
        from .exceptions import InvalidInputException

        build_id = self._get_param("id")
        found, _ = builds.describe(self.codebuild_backend, [build_id])
        if not found:
            raise InvalidInputException(f"Build {build_id} does not exist")
        builds.stop(build_id)
        return ActionResult({"build": found[0]})


    def list_builds_for_project(self) -> ActionResult:
        """Newest first unless sortOrder is ASCENDING, as on AWS (moto lists them oldest first)."""
        from .exceptions import ResourceNotFoundException

        name = self._get_param("projectName")
        if name not in self.codebuild_backend.codebuild_projects:
            raise ResourceNotFoundException(f"The provided project arn:aws:codebuild:{self.region}:"
                                            f"{self.current_account}:project/{name} does not exist")
        ids = list(self.codebuild_backend.build_history.get(name, []))
        return ActionResult({"ids": ids if self._get_param("sortOrder") == "ASCENDING" else ids[::-1]})


BUILD_OPERATIONS = ("start_build", "batch_get_builds", "stop_build", "list_builds_for_project")
