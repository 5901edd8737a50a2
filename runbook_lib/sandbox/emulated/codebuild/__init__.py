"""The sandbox's stand-in for CodeBuild source credentials and webhooks (moto's CodeBuild lacks them)."""

from .models import codebuild_emulated_backends  # noqa: F401
