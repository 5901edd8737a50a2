"""AWS clients per account for the checks: live (the boto3 credential chain) or the sandbox.

Both give ``client(service, account_id, region=None)``. The sandbox emulates CodeStar
Connections, CodeBuild source credentials and webhooks, and CodePipeline's
GetPipelineState itself (its stand-ins), so those checks PASS or FAIL by what it holds.
"""

from __future__ import annotations

import boto3
from botocore.config import Config

from ..boto_sessions import boto3_session
from ..errors import RunbookError
from ..naming import iam_arn

RETRIES = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=20)


class CredentialsError(RunbookError):
    """No usable credentials for an account."""


class LiveClients:
    """Real AWS: the default credential chain (profile, SSO, environment), then assume-role per account.

    When the caller already is in the wanted account, its credentials are used as they are.
    """

    sandbox = False

    def __init__(self, region: str, role_name: str, profile: str | None = None):
        self.region = region
        self.role_name = role_name
        self.base = boto3_session(profile_name=profile, region_name=region)
        self._caller: str | None = None
        self._sessions: dict[str, boto3.Session] = {}

    def caller_account(self) -> str:
        if self._caller is not None:
            return self._caller
        try:
            self._caller = self.base.client("sts", config=RETRIES).get_caller_identity()["Account"]
            return self._caller
        except Exception as exc:  # botocore raises several credential errors; all mean the same to a user
            raise CredentialsError(
                f"No usable AWS credentials ({type(exc).__name__}: {exc}). Sign in, e.g. `aws sso login --profile NAME` "
                "and `export AWS_PROFILE=NAME`."
            ) from exc

    def session(self, account_id: str) -> boto3.Session:
        if account_id in self._sessions:
            return self._sessions[account_id]
        if self.caller_account() == account_id:
            return self.base
        sts = self.base.client("sts", config=RETRIES)
        try:
            creds = sts.assume_role(RoleArn=iam_arn(self.region, account_id, f"role/{self.role_name}"),
                                    RoleSessionName="eks-cicd-runbooks-check")["Credentials"]
        except Exception as exc:
            raise CredentialsError(f"cannot assume {self.role_name} in account {account_id}: {exc}") from exc
        self._sessions[account_id] = boto3_session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"], region_name=self.region)
        return self._sessions[account_id]

    def client(self, service: str, account_id: str, region: str | None = None):
        return self.session(account_id).client(service, region_name=region or self.region, config=RETRIES)


class SandboxClients:
    """The embedded emulator: loopback endpoint only, accounts reached by assume-role like live.

    Its clients come from ``SandboxSessions``: no proxy, no user profile or config file.
    """

    sandbox = True

    def __init__(self, endpoint: str, region: str, role_name: str):
        from ..sandbox.clients import SandboxSessions

        self._sessions = SandboxSessions(endpoint, region, role_name)
        self.region = region

    def client(self, service: str, account_id: str, region: str | None = None):
        return self._sessions.client(service, account_id, region, config=RETRIES)
