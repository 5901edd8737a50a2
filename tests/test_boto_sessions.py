"""boto3 sessions share one loader of botocore's data files, and nothing else.

No AWS call is made: clients are only built (endpoint on loopback, never reached).
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from runbook_lib import boto_sessions
from runbook_lib.sandbox.clients import boto3_session as sandbox_session

LOOPBACK = "http://127.0.0.1:9"


def test_sessions_share_one_loader_whose_search_paths_stay_the_same():
    first = sandbox_session("us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    paths = list(boto_sessions.shared_loader().search_paths)
    for _ in range(50):
        session = sandbox_session("us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
        session.client("codebuild", endpoint_url=LOOPBACK)
    assert session._session.get_component("data_loader") is first._session.get_component("data_loader")
    assert boto_sessions.shared_loader().search_paths == paths   # boto3's own folder is not added again and again
    assert len(paths) == len(set(paths))


def test_a_bad_profile_in_the_environment_stays_with_the_session_that_reads_it(monkeypatch):
    """Hostile: AWS_PROFILE names a profile that does not exist. A live session fails on it;
    a sandbox session made through the same shared loader reads no profile and works."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-anywhere")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    with pytest.raises(botocore.exceptions.ProfileNotFound):
        boto_sessions.boto3_session(region_name="us-east-1").client("sts")
    sandbox = sandbox_session("us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    client = sandbox.client("sts", endpoint_url=LOOPBACK)
    assert client.meta.region_name == "us-east-1"
    assert sandbox._session.get_component("data_loader") is boto_sessions.shared_loader()
