"""The plan summary read from ``terraform plan -json``: the same summary ``show -json`` gives, or none at all.

Without a cloud: hand-made message streams in the shape Terraform 1.11 prints them,
hostile ones included (a stream cut short, counts that disagree, an action or reason
not known here). Against real Terraform, the two ways are compared on real plans in
``test_plan_stream_terraform.py``.
"""

from __future__ import annotations

import json
import re
import stat
import sys
import threading
from pathlib import Path

import pytest

from runbook_lib.errors import TerraformError
from runbook_lib.terraform.gate import ApprovedPlan
from runbook_lib.terraform.plan import summarize, summary_from_stream
from runbook_lib.terraform.runner import RunResult, Terraform
from runbook_lib.terraform.stream import read_message, words

FIXTURES = Path(__file__).parent / "fixtures"


def _change(addr: str, action: str, reason: str = "", importing: str = "") -> dict:
    """A planned_change message: ``resource`` is the address inside its module, as Terraform prints it."""
    parts = addr.split(".")
    cut = 2 if parts[0] == "module" else 0
    module, resource = ".".join(parts[:cut]), ".".join(parts[cut:])
    kind = resource.split(".")[-2]
    change = {"resource": {"addr": addr, "module": module, "resource": resource, "implied_provider": "aws",
                           "resource_type": kind,
                           "resource_name": resource.split(".")[-1], "resource_key": None},
              "action": action}
    if reason:
        change["reason"] = reason
    if importing:
        change["importing"] = {"id": importing}
    return {"@level": "info", "@message": f"{addr}: Plan to {action}", "type": "planned_change", "change": change}


def _summary_message(add: int, change: int, remove: int, imported: int = 0) -> dict:
    return {"@level": "info", "@message": f"Plan: {add} to add, {change} to change, {remove} to destroy.",
            "type": "change_summary",
            "changes": {"add": add, "change": change, "remove": remove, "import": imported, "operation": "plan"}}


def _outputs(**actions: str) -> dict:
    return {"@level": "info", "@message": f"Outputs: {len(actions)}", "type": "outputs",
            "outputs": {name: {"sensitive": False, "action": action} for name, action in actions.items()}}


# What show -json says for the same plan (the fixture's shape), to compare with.
SHOW = {
    "resource_changes": [
        {"address": "module.ecr_repository.aws_ecr_repository.this", "mode": "managed", "type": "aws_ecr_repository",
         "change": {"actions": ["create"]}},
        {"address": "module.pipeline_staging.aws_codepipeline.this", "mode": "managed", "type": "aws_codepipeline",
         "change": {"actions": ["delete", "create"]}, "action_reason": "replace_because_tainted"},
        {"address": "module.deploy_role_x.aws_iam_role.this", "mode": "managed", "type": "aws_iam_role",
         "change": {"actions": ["delete"]}, "action_reason": "delete_because_no_resource_config"},
        {"address": "module.image_project.aws_iam_role.this", "mode": "managed", "type": "aws_iam_role",
         "change": {"actions": ["no-op"], "importing": {"id": "acme-web-image"}}},
        {"address": "module.image_project.aws_iam_policy.this", "mode": "managed", "type": "aws_iam_policy",
         "change": {"actions": ["no-op"]}},
        {"address": "module.image_project.data.aws_caller_identity.this", "mode": "data", "type": "aws_caller_identity",
         "change": {"actions": ["read"]}},
    ],
    "output_changes": {"repository": {"actions": ["create"]}, "bucket": {"actions": ["no-op"]}},
}
STREAM = [
    {"@level": "info", "@message": "Terraform 1.11.4", "type": "version"},
    _change("module.image_project.data.aws_caller_identity.this", "read"),
    _change("module.ecr_repository.aws_ecr_repository.this", "create"),
    _change("module.pipeline_staging.aws_codepipeline.this", "replace", "tainted"),
    _change("module.deploy_role_x.aws_iam_role.this", "delete", "delete_because_no_resource_config"),
    _change("module.image_project.aws_iam_role.this", "import", importing="acme-web-image"),
    _summary_message(add=2, change=0, remove=2, imported=1),
    _outputs(repository="create", bucket="noop"),
]


@pytest.fixture
def plan_file(tmp_path):
    path = tmp_path / "runbook.tfplan"
    path.write_bytes(b"saved plan")
    return path


def _from_stream(messages, plan_file):
    return summary_from_stream(messages, root="ci/web", workdir=plan_file.parent, plan_file=plan_file)


def test_the_stream_gives_the_summary_show_json_gives(plan_file):
    from_show = summarize(SHOW, root="ci/web", workdir=plan_file.parent, plan_file=plan_file)
    from_stream = _from_stream(STREAM, plan_file)
    assert from_stream == from_show
    assert from_stream.headline() == "ci/web: 1 to import, 1 to create, 0 to update, 1 to replace, 1 to delete"
    assert [c.why for c in from_stream.destructive] == ["no longer in the configuration",
                                                        "tainted: an earlier apply did not finish creating it"]


def test_a_plan_with_no_changes_is_empty_from_the_stream(plan_file):
    summary = _from_stream([_summary_message(0, 0, 0), _outputs(bucket="noop")], plan_file)
    assert summary is not None and summary.is_empty


def test_an_update_needs_show_json_for_its_attributes(plan_file):
    stream = [_change("module.image_project.aws_codebuild_project.this", "update"), _summary_message(0, 1, 0)]
    assert _from_stream(stream, plan_file) is None


@pytest.mark.parametrize("hostile", [
    "cut short",           # Terraform stopped before its change summary: the stream may lack changes
    "counts disagree",     # a change the summary counts is missing from the messages
    "unknown action",
    "unknown reason",
    "unknown output action",
])
def test_a_stream_that_does_not_carry_it_all_gives_no_summary(plan_file, hostile):
    stream = [dict(m) for m in STREAM]
    if hostile == "cut short":
        stream = [m for m in stream if m["type"] != "change_summary"]
    elif hostile == "counts disagree":
        stream.remove(stream[2])   # the create
    elif hostile == "unknown action":
        stream[2] = _change("module.ecr_repository.aws_ecr_repository.this", "transmogrify")
    elif hostile == "unknown reason":
        stream[3] = _change("module.pipeline_staging.aws_codepipeline.this", "replace", "because_it_felt_like_it")
    else:
        stream[-1] = _outputs(repository="rename")
    assert _from_stream(stream, plan_file) is None


def test_the_digest_is_of_the_saved_plan_so_a_swapped_plan_is_still_refused(plan_file):
    summary = _from_stream(STREAM, plan_file)
    plan_file.write_bytes(b"swapped after the summary")
    with pytest.raises(TerraformError, match="changed after it was approved"):
        Terraform(plan_file.parent, plugin_cache=False).apply(ApprovedPlan(summary, "auto-approve"))


def test_diagnostics_read_as_terraform_text_and_explain_a_held_lock(tmp_path):
    lock = (FIXTURES / "terraform_output" / "state_lock.txt").read_text()   # the same error, as boxed text
    boxed = lock.split("Error acquiring the state lock", 1)[1].splitlines()
    detail = "\n".join(re.sub(r"^[│╵]\s?", "", line) for line in boxed).strip()
    message = {"@level": "error", "@message": "Error: Error acquiring the state lock", "type": "diagnostic",
               "diagnostic": {"severity": "error", "summary": "Error acquiring the state lock", "detail": detail}}
    line = json.dumps(message)
    assert read_message(line) == message
    assert read_message("not json at all") is None
    assert words(message).startswith("Error: Error acquiring the state lock")
    tf = Terraform(tmp_path, plugin_cache=False, sink=lambda _line: None)
    failure = tf._failure(["plan"], RunResult(["terraform", "plan"], 1, words(message), "", 1.0, (message,)))
    assert "is locked by" in str(failure) and "runbook unlock" in str(failure)
    assert "Error acquiring the state lock" in failure.stderr


def test_json_lines_reach_the_sink_in_words_and_the_messages_are_kept(tmp_path, monkeypatch):
    script = tmp_path / "terraform"
    lines = [{"@level": "info", "@message": "module.a.aws_s3_bucket.b: Plan to create", "type": "planned_change"},
             {"@level": "error", "@message": "Error: boom", "type": "diagnostic",
              "diagnostic": {"severity": "error", "summary": "boom", "detail": "it broke"}}]
    script.write_text("#!/bin/sh\n" + "".join(f"echo '{json.dumps(m)}'\n" for m in lines) + "exit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(script))
    seen: list[str] = []
    tf = Terraform(tmp_path / "root", plugin_cache=False, sink=seen.append)
    with pytest.raises(TerraformError) as exc:
        tf._run(["plan"], json_lines=True)
    assert "[root] module.a.aws_s3_bucket.b: Plan to create" in seen
    assert "[root] Error: boom" in seen and "[root] it broke" in seen
    assert "boom" in str(exc.value) and "it broke" in exc.value.stderr


def test_a_cancelled_command_is_interrupted_like_ctrl_c(tmp_path, monkeypatch):
    script = tmp_path / "terraform"
    script.write_text(f"#!{sys.executable}\nimport signal, sys, time\n"
                      "signal.signal(signal.SIGINT, lambda *_: sys.exit(130))\nprint('planning', flush=True)\n"
                      "time.sleep(60)\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(script))
    cancel = threading.Event()
    # cancelled once the stand-in says it is planning; left alone, it would sleep 60 s and exit 0
    tf = Terraform(tmp_path / "root", plugin_cache=False, cancel=cancel,
                   sink=lambda line: cancel.set() if "planning" in line else None)
    with pytest.raises(KeyboardInterrupt):
        tf._run(["plan"])
    assert not list((tmp_path / "root" / ".terraform-runbook").glob("running-*.json"))   # Terraform is gone


# -- init once: skipped only while what it read and left is unchanged ------------------------------

FAKE_INIT = f"""#!{sys.executable}
import os, pathlib, sys
root = pathlib.Path(sys.argv[1].split("=", 1)[1])
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(sys.argv[2:]) + "\\n")
data = root / os.environ.get("TF_DATA_DIR", ".terraform")
(data / "modules" / "app").mkdir(parents=True, exist_ok=True)
source = (root / "main.tf").read_text()
(data / "modules" / "modules.json").write_text(source)
(data / "modules" / "app" / "main.tf").write_text("module code for " + source)
(root / ".terraform.lock.hcl").write_text("provider hashicorp/aws 5.100.0")
"""


@pytest.fixture
def init_root(tmp_path, monkeypatch):
    """A root whose Terraform is a stand-in that logs each init and installs "modules" from main.tf."""
    script = tmp_path / "terraform"
    script.write_text(FAKE_INIT)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(script))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "inits.log"))
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text('module "app" { source = "git::https://example.test/m.git?ref=1111111" }\n')

    def inits_after(action=None) -> int:
        if action:
            action(root)
        Terraform(root, plugin_cache=False, sink=lambda _line: None).init()
        log = tmp_path / "inits.log"
        return len(log.read_text().splitlines()) if log.exists() else 0
    return root, inits_after


def test_init_runs_once_while_nothing_changed(init_root):
    _root, inits_after = init_root
    assert inits_after() == 1
    assert inits_after() == 1
    assert inits_after() == 1


@pytest.mark.parametrize("change", [
    "a new module version",
    "a stale .terraform from another module version",
    "an installed module edited",
    "modules.json gone",
    "the lock file gone",
    "another provider mirror",
    "init without the backend",
])
def test_init_runs_again_when_what_it_read_or_left_changed(init_root, change, tmp_path, monkeypatch):
    root, inits_after = init_root
    assert inits_after() == 1
    log = tmp_path / "inits.log"
    if change == "a new module version":
        (root / "main.tf").write_text('module "app" { source = "git::https://example.test/m.git?ref=2222222" }\n')
    elif change == "a stale .terraform from another module version":
        other = tmp_path / "other"
        other.mkdir()
        (other / "main.tf").write_text('module "app" { source = "git::https://example.test/m.git?ref=0000000" }\n')
        Terraform(other, plugin_cache=False, sink=lambda _line: None).init()
        import shutil
        shutil.rmtree(root / ".terraform")
        shutil.copytree(other / ".terraform", root / ".terraform", symlinks=True)   # its stamp comes along
    elif change == "an installed module edited":
        (root / ".terraform" / "modules" / "app" / "main.tf").write_text("something else")
    elif change == "modules.json gone":
        (root / ".terraform" / "modules" / "modules.json").unlink()
    elif change == "the lock file gone":
        (root / ".terraform.lock.hcl").unlink()
    elif change == "another provider mirror":
        monkeypatch.setenv("RUNBOOK_TF_PROVIDER_MIRROR", str(tmp_path))
    before = len(log.read_text().splitlines())
    Terraform(root, plugin_cache=False, sink=lambda _line: None).init(backend=change != "init without the backend")
    assert len(log.read_text().splitlines()) == before + 1


def test_an_init_that_failed_is_run_again(init_root, monkeypatch, tmp_path):
    root, inits_after = init_root
    failing = tmp_path / "failing"
    failing.write_text(FAKE_INIT + "sys.exit(1)\n")
    failing.chmod(failing.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("RUNBOOK_TERRAFORM", str(failing))
    with pytest.raises(TerraformError):
        Terraform(root, plugin_cache=False, sink=lambda _line: None).init()
    with pytest.raises(TerraformError):   # it left modules and a lock file, but no stamp: run again
        Terraform(root, plugin_cache=False, sink=lambda _line: None).init()
    assert len((tmp_path / "inits.log").read_text().splitlines()) == 2
