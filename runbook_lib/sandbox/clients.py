"""boto3 clients for the sandbox: loopback endpoint, sandbox credentials, one account at a time.

An account is reached as in real AWS: by assuming the Terraform role in it
(moto keeps resources per account and maps the assumed credentials to it).
Sandbox clients go straight to the emulator: they use no proxy, whatever
``HTTP_PROXY`` and friends say, and read no AWS profile, config file or
credentials file, whatever ``AWS_PROFILE`` and friends say.
"""

from __future__ import annotations

import os

import boto3
from botocore.config import Config
from botocore.configprovider import ConstantProvider

from .. import boto_sessions
from .keys import SIGNING_SECRET, key_for
from .loopback import require_loopback

SANDBOX_ENV = {"AWS_EC2_METADATA_DISABLED": "true"}
# The credentials a sandbox client signs with: the sandbox's key as the access key id (keys.py).
CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# Variables that could point a sandbox run at real credentials or endpoints.
CLEARED_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE",
               "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
               # endpoint switches that send a client to another host than the endpoint it is given
               "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT")
# The user's AWS config and credentials files: sandbox runs read an empty file instead, and no profile.
USER_FILES_ENV = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")   # for Terraform and the emulator
NO_USER_CONFIG = {"profile": None, "config_file": os.devnull, "credentials_file": os.devnull}   # for boto3
# Hosts the sandbox runs on, which a proxy must never see (Terraform reads NO_PROXY or no_proxy).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
NO_PROXY_VARS = ("NO_PROXY", "no_proxy")
RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"})
# An explicit empty map: botocore reads HTTP_PROXY and friends only when a client has no proxies set.
NO_PROXIES = Config(proxies={})


def sandbox_env(key: str | None = None) -> dict[str, str]:
    """Environment for a Terraform run against the sandbox (cleared variables map to '', which it takes as unset).

    It signs with the sandbox's ``key``; without one (the emulator's own environment) no credentials at all.
    No user profile or AWS file is read; NO_PROXY and no_proxy keep what the user set and add the loopback hosts.
    """
    env = {name: "" for name in CLEARED_ENV}
    env.update(SANDBOX_ENV)
    env.update(dict(zip(CREDENTIAL_VARS, (key, SIGNING_SECRET))) if key else {name: "" for name in CREDENTIAL_VARS})
    env.update({name: os.devnull for name in USER_FILES_ENV})
    hosts = [host.strip() for name in NO_PROXY_VARS for host in os.environ.get(name, "").split(",")]
    no_proxy = ",".join(dict.fromkeys(host for host in [*hosts, *LOOPBACK_HOSTS] if host))
    env.update({name: no_proxy for name in NO_PROXY_VARS})
    return env


def server_env() -> dict[str, str]:
    """The whole environment for the emulator process: ours with ``sandbox_env`` applied.

    Cleared variables are left out, not set to '': botocore (inside moto) takes AWS_PROFILE='' as a profile named ''.
    """
    env = {**os.environ, **sandbox_env()}
    return {name: value for name, value in env.items() if name not in (*CLEARED_ENV, *CREDENTIAL_VARS)}


def client_config(config: Config | None = None) -> Config:
    """``config`` (by default the sandbox's retries) with proxies turned off."""
    return (config or RETRIES).merge(NO_PROXIES)


def boto3_session(region: str, **credentials: str) -> boto3.Session:
    """A boto3 session with these credentials that reads no profile, config file or credentials file."""
    core = boto_sessions.core_session()
    store = core.get_component("config_store")
    for name, value in NO_USER_CONFIG.items():
        store.set_config_provider(name, ConstantProvider(value))
    return boto_sessions.boto3_session(core, region_name=region, **credentials)


class SandboxSessions:
    """boto3 clients for each account of the sandbox."""

    def __init__(self, endpoint: str, region: str, role_name: str):
        self.endpoint = require_loopback(endpoint)
        self.region = region
        self.role_name = role_name
        self._sessions: dict[str, boto3.Session] = {}   # per instance: they go when the instance goes

    def _base(self) -> boto3.Session:
        return boto3_session(self.region, aws_access_key_id=key_for(self.endpoint), aws_secret_access_key=SIGNING_SECRET)

    def session(self, account_id: str) -> boto3.Session:
        if account_id in self._sessions:
            return self._sessions[account_id]
        sts = self._base().client("sts", endpoint_url=self.endpoint, config=client_config())
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{self.role_name}",
                                RoleSessionName="eks-cicd-runbooks")["Credentials"]
        self._sessions[account_id] = boto3_session(
            self.region, aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"])
        return self._sessions[account_id]

    def client(self, service: str, account_id: str, region: str | None = None, config: Config | None = None):
        """A client of ``service`` in ``account_id``, on the sandbox's endpoint, without proxies."""
        return self.session(account_id).client(service, endpoint_url=self.endpoint, region_name=region or self.region,
                                               config=client_config(config))
