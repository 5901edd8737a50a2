"""The Terraform wrapper without a cloud: plan summaries, the gate, error messages, version and plan checks."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runbook_lib.errors import RunbookError, TerraformError
from runbook_lib.terraform.binary import (
    DEBUG_LOG_ENV,
    DEBUG_LOG_PREFIX,
    GO_GC_PERCENT,
    MIRROR_ENV,
    PLUGIN_CACHE_ENV,
    PLUGIN_CACHE_LOCK,
    TF_PLUGIN_CACHE_VAR,
    cli_config_text,
    find_terraform,
    plugin_cache_in_use,
    plugin_cache_lock,
    terraform_env,
)
from runbook_lib.terraform.errors import explain
from runbook_lib.terraform.gate import ApprovalError, ApprovedPlan, approve
from runbook_lib.terraform.plan import SENSITIVE, summarize
from runbook_lib.terraform.redact import redact
from runbook_lib.terraform.runner import Terraform, parse_version

from .conftest import needs_terraform

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent


def _summary(name: str, tmp_path: Path):
    plan_file = tmp_path / "runbook.tfplan"
    plan_file.write_bytes(b"plan bytes of " + name.encode())
    show = json.loads((FIXTURES / "plans" / f"{name}.json").read_text())
    return summarize(show, root="ci/web", workdir=tmp_path, plan_file=plan_file)


def test_summary_counts_each_action(tmp_path):
    s = _summary("mixed", tmp_path)
    assert s.counts == {"create": 1, "update": 1, "replace": 1, "delete": 1}
    assert [c.address for c in s.destructive] == [   # in address order, whichever order Terraform gave
        "module.deploy_role_x.aws_iam_role.this", "module.pipeline_staging.aws_codepipeline.this"]
    assert not s.is_empty
    assert s.headline() == "ci/web: 1 to create, 1 to update, 1 to replace, 1 to delete"
    assert all(c.address != "data.aws_caller_identity.this" for c in s.changes)


def test_sensitive_values_never_reach_the_summary(tmp_path):
    s = _summary("mixed", tmp_path)
    [update] = s.by_action("update")
    token = next(a for a in update.attributes if a.name == "token")
    assert token.before == SENSITIVE and token.after == SENSITIVE
    assert "ghp_" not in repr(s)
    assert {a.name for a in update.attributes} == {"description", "token"}


def test_no_op_plan_is_empty(tmp_path):
    s = _summary("empty", tmp_path)
    assert s.is_empty and s.headline() == "ci/web: no changes"


def test_gate_stops_deletes_even_with_auto_approve(tmp_path):
    s = _summary("mixed", tmp_path)
    with pytest.raises(ApprovalError) as exc:
        approve(s, auto_approve=True)
    assert "  - delete: module.deploy_role_x.aws_iam_role.this (no longer in the configuration)" in str(exc.value)
    assert ("  - replace: module.pipeline_staging.aws_codepipeline.this "
            "(a changed argument cannot be updated in place)") in str(exc.value)
    assert "--allow-destroy" in str(exc.value) and "nothing was applied" in str(exc.value)
    assert approve(s, auto_approve=True, allow_destroy=True).approved_by == "auto-approve"


def test_gate_needs_someone_to_approve(tmp_path):
    s = _summary("mixed", tmp_path)
    with pytest.raises(ApprovalError, match="--auto-approve"):
        approve(s, allow_destroy=True)
    with pytest.raises(ApprovalError, match="not approved"):
        approve(s, allow_destroy=True, confirm=lambda _: False)
    assert approve(s, allow_destroy=True, confirm=lambda _: True).approved_by == "confirmed"


@pytest.mark.parametrize("fixture, expected", [
    ("state_lock", ["locked by alice@build-host since 2026-11-26 09:01:02.123456 +0000 UTC",
                    "OperationTypeApply", "`runbook unlock ci/web 8d1c6b7e-3a8e-9c57-2f0e-1b2a3c4d5e6f`",
                    "Nothing was changed"]),
    ("no_credentials", ["credentials for ci/web are missing or expired", "aws sso login"]),
    ("provider_offline", ["could not install the AWS provider", "RUNBOOK_TF_PROVIDER_MIRROR"]),
    ("stale_plan", ["stale", "Plan again"]),
])
def test_common_failures_get_clear_messages(fixture, expected):
    message = explain((FIXTURES / "terraform_output" / f"{fixture}.txt").read_text(), "ci/web")
    for text in expected:
        assert text in message


def _output(name: str) -> str:
    return (FIXTURES / "terraform_output" / f"{name}.txt").read_text()


def test_a_resource_created_but_never_recorded_gets_both_ways_forward():
    """Real stderr of `terraform apply` in the sandbox's cd/worker root after the role was created outside it."""
    message = explain(_output("already_exists"), "cd/worker")
    assert message.startswith("Terraform tried to create resources of cd/worker that already exist in AWS "
                              "but are not in its state:\n"
                              "  - module.deploy_project.aws_iam_role.codebuild: IAM Role acme-worker-deploy "
                              "(EntityAlreadyExists)\n")
    assert "an earlier apply was stopped (killed, or its machine lost) after AWS created them" in message
    assert ("terraform -chdir=OUT/infra/cd/worker import 'module.deploy_project.aws_iam_role.codebuild' "
            "'acme-worker-deploy'") in message
    assert "delete each one by hand in AWS" in message and "then apply again" in message


def test_the_import_command_names_the_real_folder_when_it_is_known():
    message = explain(_output("already_exists"), "cd/worker", "/work/build/infra/cd/worker")
    assert ("terraform -chdir=/work/build/infra/cd/worker import 'module.deploy_project.aws_iam_role.codebuild' "
            "'acme-worker-deploy'") in message
    assert "OUT" not in message


def test_every_leftover_gets_its_own_import_command_boxed_or_not():
    boxed = "".join(f"│ {line}\n" if line else "│\n" for line in _output("already_exists").splitlines())
    message = explain("╷\n" + boxed + "╵\n" + _output("already_exists_ecr"), "ci/worker")
    assert "  - module.ecr_repository.aws_ecr_repository.this: ECR Repository acme/worker " \
           "(RepositoryAlreadyExistsException)" in message
    assert [line.strip() for line in message.splitlines() if line.strip().startswith("terraform ")] == [
        "terraform -chdir=OUT/infra/ci/worker import 'module.deploy_project.aws_iam_role.codebuild' 'acme-worker-deploy'",
        "terraform -chdir=OUT/infra/ci/worker import 'module.ecr_repository.aws_ecr_repository.this' 'acme/worker'",
    ]


@pytest.mark.parametrize("code", ["ResourceAlreadyExistsException", "BucketAlreadyOwnedByYou", "ParameterAlreadyExists"])
def test_other_already_exists_codes_are_recognised(code):
    text = _output("already_exists").replace("EntityAlreadyExists", code)
    assert f"IAM Role acme-worker-deploy ({code})" in explain(text, "cd/worker")


def test_a_bucket_name_taken_by_another_account_is_not_a_leftover():
    text = _output("already_exists").replace("EntityAlreadyExists", "BucketAlreadyExists")
    assert explain(text, "cd/worker") is None


def test_unrecognised_failure_is_left_to_the_raw_output():
    assert explain("Error: something new", "ci/web") is None


def test_version_parsing():
    assert parse_version("1.11.4") == (1, 11, 4)
    assert parse_version("v1.10.0-beta1") == (1, 10, 0)
    with pytest.raises(TerraformError):
        parse_version("garbage")


def _fake_terraform(tmp_path: Path, version: str) -> Path:
    script = tmp_path / "terraform"
    script.write_text(f"#!/bin/sh\necho '{{\"terraform_version\": \"{version}\"}}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_too_old_terraform_is_refused_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(_fake_terraform(tmp_path, "1.5.7")))
    with pytest.raises(TerraformError) as exc:
        Terraform(tmp_path).version()
    assert "1.5.7 is too old" in str(exc.value) and "use_lockfile" in str(exc.value)


def test_missing_terraform(monkeypatch, tmp_path):
    monkeypatch.delenv("RUNBOOK_TERRAFORM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TerraformError, match="not found on PATH"):
        find_terraform()


def test_cli_config_uses_the_mirror_only_for_hashicorp_providers():
    text = cli_config_text("/opt/mirror", "/cache")
    assert 'plugin_cache_dir = "/cache"' in text
    assert 'path    = "/opt/mirror"' in text and "direct {" in text
    assert cli_config_text(None, None).strip() == ""


@needs_terraform()
def test_go_gc_is_relaxed_for_terraform_unless_the_user_chose_a_value(tmp_path, monkeypatch):
    monkeypatch.delenv("GOGC", raising=False)
    assert terraform_env(tmp_path, plugin_cache=False)["GOGC"] == GO_GC_PERCENT == "400"
    monkeypatch.setenv("GOGC", "150")
    assert terraform_env(tmp_path, plugin_cache=False)["GOGC"] == "150"


DEBUG_LOG_VARIABLES = {"TF_LOG": "TRACE", "TF_LOG_CORE": "TRACE", "TF_LOG_PROVIDER": "TRACE",
                       "TF_LOG_PROVIDER_AWS": "DEBUG", "TF_LOG_SDK_PROTO_DATA_DIR": "/tmp/runbook-proto"}


def test_debug_log_variables_from_the_environment_never_reach_terraform(tmp_path, monkeypatch):
    for name, value in DEBUG_LOG_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TF_LOG_PATH", str(tmp_path / "tf.log"))
    env = terraform_env(tmp_path / "config", plugin_cache=False)
    assert [name for name in env if name.startswith(DEBUG_LOG_PREFIX)] == []
    assert env["TF_INPUT"] == "0"  # the rest of the environment is still built


@needs_terraform()
def test_terraform_prints_no_debug_log_when_the_user_has_tf_log_set(tmp_path, monkeypatch):
    monkeypatch.delenv(DEBUG_LOG_ENV, raising=False)
    log_file = tmp_path / "tf.log"
    for name, value in DEBUG_LOG_VARIABLES.items():
        monkeypatch.setenv(name, value)
    lines: list[str] = []
    tf = Terraform(tmp_path, plugin_cache=False, sink=lines.append)
    # version() reads its output quietly, so run the same command streaming to the sink
    result = tf._run(["version"])
    assert "Terraform v" in result.stdout
    assert lines, "the command's output streams to the sink"
    assert not [line for line in lines if "[TRACE]" in line or "[DEBUG]" in line]
    assert "[TRACE]" not in result.stderr and "[DEBUG]" not in result.stderr
    monkeypatch.setenv("TF_LOG_PATH", str(log_file))
    tf = Terraform(tmp_path, plugin_cache=False, sink=lines.append)
    tf._run(["version"])
    assert not log_file.exists()


def test_runbook_tf_log_is_the_one_way_to_turn_the_debug_log_on(tmp_path, monkeypatch):
    for name, value in DEBUG_LOG_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(DEBUG_LOG_ENV, "debug")
    env = terraform_env(tmp_path / "config", plugin_cache=False)
    assert {name: value for name, value in env.items() if name.startswith(DEBUG_LOG_PREFIX)} == {"TF_LOG": "DEBUG"}
    monkeypatch.setenv(DEBUG_LOG_ENV, "JSON")   # its lines escape quotes, which the masks do not read
    with pytest.raises(TerraformError, match="RUNBOOK_TF_LOG='JSON' is not a Terraform log level"):
        terraform_env(tmp_path / "config", plugin_cache=False)
    monkeypatch.setenv(DEBUG_LOG_ENV, "")
    assert "TF_LOG" not in terraform_env(tmp_path / "config", plugin_cache=False)


# Lines shaped like those of a real TF_LOG=DEBUG plan and apply of the common root in the
# sandbox (AWS provider 5.100), with made-up values; the last ones were never seen there.
SECRET_LINES = [
    ('  | {"Parameter": {"Name": "/cicd/github-token", "Type": "SecureString", "Value": "s3cr3t-ssm-value", '
     '"Version": 1}}', "s3cr3t-ssm-value"),
    ('  | {"AllowedPattern":"","Name":"/cicd/x","Overwrite":false,"Type":"SecureString","Value":"s3cr3t \\"quoted\\""}',
     "s3cr3t"),
    ("  | <AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA************CURC</AccessKeyId>"
     "<SecretAccessKey>vwSe********************************7BzO</SecretAccessKey>"
     "<SessionToken>FQoGZXIvYXdzEBYaDSD9Z9bSh3UvMNVKEGerSbcjcp+/x=</SessionToken>", "FQoGZXIvYXdzEBYaDSD9"),
    ("  | <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>", "wJalrXUtnFEMI"),
    ('   http.request.header.x_amz_security_token="FQoGZXIvYXdzEBYaDSD9Z9bSh3" net.peer.port=36997', "FQoGZXIvYXdz"),
    ("X-Amz-Security-Token: FQoGZXIvYXdzEBYaDSD9Z9bSh3", "FQoGZXIvYXdz"),
    ('{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG","SessionToken":"FQoGZXIvYXdz"}',
     "wJalrXUtnFEMI"),
    ('{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG","SessionToken":"FQoGZXIvYXdz"}',
     "FQoGZXIvYXdz"),
    ('http.request.header.authorization="AWS4-HMAC-SHA256 Credential=ASIA************WETQ/20261127/us-east-1/sts/'
     'aws4_request, SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"',
     "5d672d79c15b"),
    ("  + token = \"ghp_sandbox5f1f170c35254311c3fc6bafeccdedc3\"", "ghp_sandbox5f1f"),
    ("gho_16C7e42F292c6912E7710c838347Ae178B4a ghu_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c"),
    ("ghs_16C7e42F292c6912E7710c838347Ae178B4a and ghr_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "11ABCDEFG0123456789"),
]


@pytest.mark.parametrize("line, secret", SECRET_LINES)
def test_the_redactor_masks_each_kind_of_secret(line, secret):
    masked = redact(line)
    assert secret not in masked and "(redacted)" in masked


def test_the_redactor_leaves_other_lines_alone():
    for line in ["  # module.artifact_bucket.aws_s3_bucket.this will be created",
                 '2026-11-27T12:16:19.664Z [DEBUG] backend-s3: HTTP Request Sent: rpc.method=AssumeRole',
                 "<AccessKeyId>ASIA************CURC</AccessKeyId><Account>111111111111</Account>",
                 '{"Name": "/cicd/github-token", "Type": "SecureString", "Version": 1}',
                 "Plan: 3 to add, 0 to change, 0 to destroy."]:
        assert redact(line) == line
    assert redact('{"Value": "x"}') == '{"Value": "(redacted)"}'   # still JSON


@needs_terraform()
def test_what_terraform_prints_is_masked_on_the_sink_and_in_errors(tmp_path, monkeypatch):
    token = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
    monkeypatch.setenv(DEBUG_LOG_ENV, "DEBUG")
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "main.tf").write_text(f'output "token" {{\n  value = "{token}"\n}}\n')
    lines: list[str] = []
    tf = Terraform(tmp_path / "ok", plugin_cache=False, sink=lines.append)
    assert [line for line in lines if "warning" in line] == [
        "[ok] warning: Terraform's debug log is on (TF_LOG=DEBUG); it may contain secrets: the known kinds "
        "are masked as (redacted), others may not be"]
    result = tf._run(["plan", "-input=false", "-no-color"])
    assert [line for line in lines if "[DEBUG]" in line], "the debug log reaches the sink"
    assert '+ token = "(redacted)"' in result.stdout
    assert not [line for line in lines if token in line] and token not in result.stdout + result.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "main.tf").write_text(f'locals {{\n  token = "{token}" + 1\n}}\n')
    with pytest.raises(TerraformError) as failed:
        Terraform(tmp_path / "bad", plugin_cache=False, sink=lines.append)._run(["plan", "-input=false", "-no-color"])
    assert '"(redacted)" + 1' in str(failed.value)   # the stderr tail kept in the error
    assert token not in str(failed.value) + failed.value.stderr


def test_with_a_mirror_there_is_no_plugin_cache_at_all(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(MIRROR_ENV, "/opt/tf-plugins")
    monkeypatch.setenv(PLUGIN_CACHE_ENV, str(cache))
    monkeypatch.setenv(TF_PLUGIN_CACHE_VAR, str(tmp_path / "inherited"))  # one the user had set
    env = terraform_env(tmp_path / "config")
    text = Path(env["TF_CLI_CONFIG_FILE"]).read_text()
    assert "plugin_cache_dir" not in text and 'path    = "/opt/tf-plugins"' in text
    assert TF_PLUGIN_CACHE_VAR not in env and plugin_cache_in_use(env) is None
    assert not cache.exists() and not (tmp_path / "inherited").exists()


def test_without_a_mirror_the_cache_is_in_the_config_and_the_environment(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setenv(PLUGIN_CACHE_ENV, str(cache))
    env = terraform_env(tmp_path / "config")
    assert Path(env["TF_CLI_CONFIG_FILE"]).read_text() == f'plugin_cache_dir = "{cache}"\n'
    assert env[TF_PLUGIN_CACHE_VAR] == str(cache) and plugin_cache_in_use(env) == cache and cache.is_dir()
    assert plugin_cache_in_use(terraform_env(tmp_path / "config2", plugin_cache=False)) is None


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from runbook_lib.terraform.binary import plugin_cache_lock
cache, log, name, start_at = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
time.sleep(max(0.0, start_at - time.time()))  # all start together
with plugin_cache_lock(cache):
    with open(log, "a") as f:
        f.write(f"{name} in {time.time()}\\n")
    time.sleep(0.5)
    with open(log, "a") as f:
        f.write(f"{name} out {time.time()}\\n")
"""


def test_the_plugin_cache_lock_makes_separate_processes_take_turns(tmp_path):
    cache, log = tmp_path / "cache", tmp_path / "log"
    cache.mkdir()
    start_at = time.time() + 1.5  # well after the three have started and imported
    procs = [subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(cache), str(log), f"p{i}", str(start_at)],
                              cwd=ROOT) for i in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    events = [line.split() for line in log.read_text().splitlines()]
    assert len(events) == 6
    # each holder's "in" is followed by its own "out", and the next "in" comes after that "out"
    for (name_in, what_in, t_in), (name_out, what_out, t_out) in zip(events[0::2], events[1::2]):
        assert (what_in, what_out) == ("in", "out") and name_in == name_out
        assert float(t_out) - float(t_in) >= 0.5
    assert all(float(events[i][2]) <= float(events[i + 1][2]) for i in range(5))
    assert (cache / PLUGIN_CACHE_LOCK).is_file()


def _lock_probe_terraform(tmp_path: Path) -> Path:
    """A stand-in terraform that reports whether the plugin cache lock is held while it runs."""
    script = tmp_path / "terraform"
    script.write_text(
        f"#!{sys.executable}\n"
        "import fcntl, os\n"
        f"open({str(tmp_path / 'ran')!r}, 'w').close()\n"
        f"cache = os.environ.get({TF_PLUGIN_CACHE_VAR!r})\n"
        "if not cache:\n"
        "    print('no plugin cache')\n"
        "    raise SystemExit(0)\n"
        f"with open(os.path.join(cache, {PLUGIN_CACHE_LOCK!r}), 'a') as f:\n"
        "    try:\n"
        "        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "        print('cache NOT locked')\n"
        "    except BlockingIOError:\n"
        "        print('cache locked')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_init_waits_for_the_cache_lock_and_holds_it_while_terraform_runs(tmp_path, monkeypatch):
    cache, root = tmp_path / "cache", tmp_path / "root"
    root.mkdir()
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setenv(PLUGIN_CACHE_ENV, str(cache))
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(_lock_probe_terraform(tmp_path)))
    messages: list[str] = []
    tf = Terraform(root, sink=messages.append)
    results = []
    with open(cache / PLUGIN_CACHE_LOCK, "a") as other:  # another job's init holds the cache
        fcntl.flock(other, fcntl.LOCK_EX)
        worker = threading.Thread(target=lambda: results.append(tf.init()))
        worker.start()
        worker.join(timeout=1.0)   # a bounded wait for what must not happen: terraform starting
        assert not (tmp_path / "ran").exists() and worker.is_alive()  # terraform has not started
        fcntl.flock(other, fcntl.LOCK_UN)
    worker.join(timeout=30)
    assert results and results[0].stdout.strip() == "cache locked"
    assert any("waiting for another terraform init" in m and PLUGIN_CACHE_LOCK in m for m in messages)


def test_init_with_a_mirror_takes_no_lock(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(MIRROR_ENV, "/opt/tf-plugins")
    monkeypatch.setenv(PLUGIN_CACHE_ENV, str(cache))
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(_lock_probe_terraform(tmp_path)))
    assert Terraform(tmp_path, sink=lambda _: None).init().stdout.strip() == "no plugin cache"
    assert not cache.exists()


def _unusable_cache(kind: str, tmp_path: Path) -> Path:
    if kind == "a file":
        (tmp_path / "cache").write_text("not a directory")
        return tmp_path / "cache"
    if kind == "under a file":
        (tmp_path / "file").write_text("not a directory")
        return tmp_path / "file" / "cache"
    if kind == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root can write to any directory")
        (tmp_path / "ro").mkdir(mode=0o555)
        return tmp_path / "ro"
    if kind == "in /proc":  # refused even to root
        if not os.path.isdir("/proc/self"):
            pytest.skip("no /proc here")
        return Path("/proc/runbook-plugin-cache")
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["a file", "under a file", "read-only", "in /proc"])
def test_an_unusable_plugin_cache_is_a_clear_error(tmp_path, monkeypatch, kind):
    path = _unusable_cache(kind, tmp_path)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setenv(PLUGIN_CACHE_ENV, str(path))
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(_fake_terraform(tmp_path, "1.11.4")))
    try:
        with pytest.raises(RunbookError) as exc:  # when the environment is built, or at the latest at init
            Terraform(tmp_path, sink=lambda _: None).init()
    finally:
        if kind == "read-only":
            os.chmod(path, 0o755)
    assert isinstance(exc.value, TerraformError)
    assert f"plugin cache {path} cannot be used" in str(exc.value) and PLUGIN_CACHE_ENV in str(exc.value)


def test_the_cache_lock_names_the_path_when_it_cannot_open_its_file(tmp_path):
    (tmp_path / PLUGIN_CACHE_LOCK).mkdir()  # something else sits where the lock file goes
    with pytest.raises(TerraformError, match=f"plugin cache {tmp_path} cannot be used: cannot open"), \
            plugin_cache_lock(tmp_path):
        pass
    with pytest.raises(TerraformError, match="cannot be used"), plugin_cache_lock(tmp_path / "gone"):
        pass


def test_apply_takes_only_an_approved_plan_for_this_root(tmp_path):
    root_a, root_b = tmp_path / "a", tmp_path / "b"
    root_a.mkdir(), root_b.mkdir()
    summary = _summary("empty", root_a)
    tf_b = Terraform(root_b, plugin_cache=False)
    with pytest.raises(TerraformError, match="approved plan"):
        tf_b.apply(summary)  # a summary is not an approval
    with pytest.raises(TerraformError, match="belongs to"):
        tf_b.apply(ApprovedPlan(summary, "confirmed"))
    tf_a = Terraform(root_a, plugin_cache=False)
    Path(summary.plan_file).write_bytes(b"swapped after approval")
    with pytest.raises(TerraformError, match="changed after it was approved"):
        tf_a.apply(ApprovedPlan(summary, "confirmed"))
    os.unlink(summary.plan_file)
    with pytest.raises(TerraformError, match="is gone"):
        tf_a.apply(ApprovedPlan(summary, "confirmed"))


@pytest.mark.parametrize("root, lock_id, expected", [
    ("ci/web", "not-a-lock", "lock ID 'not-a-lock' is not a Terraform lock ID"),
    ("ci/nope", "0b8d6f1e-1111-2222-3333-444455556666",
     "root 'ci/nope' is not a root of these parameters (roots: cicd-common, ci/web, cd/web)"),
    ("ci/web", "0b8d6f1e-1111-2222-3333-444455556666", "nothing is rendered at"),
])
def test_unlock_refuses_bad_input_and_touches_nothing(tmp_path, capsys, root, lock_id, expected):
    from runbook_lib.cli import main

    out = tmp_path / "out"
    out.mkdir()
    code = main(["unlock", root, lock_id, "--app", "parameters/apps/web.yaml", "--target", "live", "--out", str(out)])
    assert code == 2
    assert expected in capsys.readouterr().err
    assert list(out.iterdir()) == []


# -- leftovers of a killed run ---------------------------------------------------------------

def _dead_process() -> tuple[int, float]:
    """The pid and start time of a process that has exited (a runbook process killed with -9)."""
    import psutil

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, started


def _note(workdir: Path, group: int, owner: tuple[int, float]) -> Path:
    import psutil

    from runbook_lib.terraform.runner import private_dir

    note = private_dir(workdir) / f"running-{group}.json"
    note.write_text(json.dumps({"group": group, "started": psutil.Process(group).create_time(),
                                "owner": owner[0], "owner_started": owner[1]}))
    return note


@needs_terraform()
def test_terraform_left_by_a_killed_run_is_ended_by_the_next_one(tmp_path):
    import psutil

    # A real Terraform in its own process group, as the runner starts it; its runbook process is gone.
    left = subprocess.Popen(["terraform", "console"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path)
    # A process that is not Terraform, named by a note as if it were: never signalled.
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        _running_as(left.pid, "terraform")
        note = _note(tmp_path, left.pid, _dead_process())
        forged = _note(tmp_path, other.pid, _dead_process())
        lines: list[str] = []
        Terraform(tmp_path, root="ci/web", sink=lines.append)
        assert left.wait(timeout=10) is not None
        assert any(f"terraform ({left.pid})" in line and "left running by an earlier run" in line for line in lines), lines
        assert other.poll() is None and psutil.Process(other.pid).name() == "sleep"
        assert not note.exists() and not forged.exists()
    finally:
        for proc in (left, other):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _running_as(pid: int, name: str, timeout: float = 30) -> None:
    """Wait until process ``pid`` runs the program ``name`` (its exec is done)."""
    import psutil

    deadline = time.monotonic() + timeout
    while psutil.Process(pid).name() != name:
        assert time.monotonic() < deadline, f"{pid} never ran {name}"
        time.sleep(0.05)


@needs_terraform()
def test_terraform_of_a_run_still_alive_is_left_alone(tmp_path):
    import psutil

    busy = subprocess.Popen(["terraform", "console"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path)
    try:
        _running_as(busy.pid, "terraform")
        me = psutil.Process()
        note = _note(tmp_path, busy.pid, (me.pid, me.create_time()))   # another run of this root, alive
        lines: list[str] = []
        Terraform(tmp_path, root="ci/web", sink=lines.append)
        assert busy.poll() is None and note.exists() and lines == []
    finally:
        busy.kill()
        busy.wait()


def test_a_note_that_is_not_the_runners_is_dropped_unread(tmp_path):
    from runbook_lib.terraform.runner import end_leftovers, private_dir

    note = private_dir(tmp_path) / "running-1.json"
    note.write_text('{"group": 1, "started": "yesterday"}')
    assert end_leftovers(tmp_path) == [] and not note.exists()


def test_the_private_folder_is_this_users_only(tmp_path):
    from runbook_lib.terraform.runner import plan_path, private_dir

    (tmp_path / ".terraform-runbook").mkdir(mode=0o755)
    folder = private_dir(tmp_path)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert plan_path(tmp_path).parent == folder


def test_a_private_folder_that_is_a_link_is_refused(tmp_path):
    from runbook_lib.terraform.runner import private_dir

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / ".terraform-runbook").symlink_to(elsewhere)
    with pytest.raises(TerraformError, match="not this user's own folder"):
        private_dir(tmp_path / "root")
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755   # nothing was changed where it points


def test_terraform_gets_longer_to_stop_on_a_busy_machine():
    from runbook_lib.terraform.runner import INTERRUPT_GRACE_MAX_SECONDS, INTERRUPT_GRACE_SECONDS, interrupt_grace

    assert interrupt_grace(load=0.3, cores=2) == INTERRUPT_GRACE_SECONDS
    assert interrupt_grace(load=6, cores=2) == 3 * INTERRUPT_GRACE_SECONDS
    assert interrupt_grace(load=500, cores=2) == INTERRUPT_GRACE_MAX_SECONDS
