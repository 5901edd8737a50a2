"""boto3 clients for the sandbox: loopback endpoint, sandbox credentials, one account at a time.

An account is reached as in real AWS: by assuming the Terraform role in it
(moto keeps resources per account and maps the assumed credentials to it).
Sandbox clients go straight to the emulator: they use no proxy, whatever
``HTTP_PROXY`` and friends say.
"""

from __future__ import annotations

import os

import boto3
from botocore.config import Config

from .loopback import require_loopback

# Credentials the emulator accepts; they are not secrets and open nothing outside it.
SANDBOX_ENV = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Variables that could point a sandbox run at real credentials or endpoints.
CLEARED_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE",
               "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
# Hosts the sandbox runs on, which a proxy must never see (Terraform reads NO_PROXY or no_proxy).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
NO_PROXY_VARS = ("NO_PROXY", "no_proxy")
RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"})
# An explicit empty map: botocore reads HTTP_PROXY and friends only when a client has no proxies set.
NO_PROXIES = Config(proxies={})


def sandbox_env() -> dict[str, str]:
    """Environment for a Terraform run against the sandbox (cleared variables map to '').

    NO_PROXY and no_proxy keep what the user set and add the loopback hosts.
    """
    env = {name: "" for name in CLEARED_ENV}
    env.update(SANDBOX_ENV)
    hosts = [host.strip() for name in NO_PROXY_VARS for host in os.environ.get(name, "").split(",")]
    no_proxy = ",".join(dict.fromkeys(host for host in [*hosts, *LOOPBACK_HOSTS] if host))
    env.update({name: no_proxy for name in NO_PROXY_VARS})
    return env


def client_config(config: Config | None = None) -> Config:
    """``config`` (by default the sandbox's retries) with proxies turned off."""
    return (config or RETRIES).merge(NO_PROXIES)


class SandboxSessions:
    """boto3 clients for each account of the sandbox."""

    def __init__(self, endpoint: str, region: str, role_name: str):
        self.endpoint = require_loopback(endpoint)
        self.region = region
        self.role_name = role_name
        self._sessions: dict[str, boto3.Session] = {}   # per instance: they go when the instance goes

    def _base(self) -> boto3.Session:
        return boto3.Session(aws_access_key_id=SANDBOX_ENV["AWS_ACCESS_KEY_ID"],
                             aws_secret_access_key=SANDBOX_ENV["AWS_SECRET_ACCESS_KEY"], region_name=self.region)

    def session(self, account_id: str) -> boto3.Session:
        if account_id in self._sessions:
            return self._sessions[account_id]
        sts = self._base().client("sts", endpoint_url=self.endpoint, config=client_config())
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{self.role_name}",
                                RoleSessionName="eks-cicd-runbooks")["Credentials"]
        self._sessions[account_id] = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"], region_name=self.region)
        return self._sessions[account_id]

    def client(self, service: str, account_id: str, region: str | None = None, config: Config | None = None):
        """A client of ``service`` in ``account_id``, on the sandbox's endpoint, without proxies."""
        return self.session(account_id).client(service, endpoint_url=self.endpoint, region_name=region or self.region,
                                               config=client_config(config))
