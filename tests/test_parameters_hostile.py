"""Hostile parameters files: reading is bounded, messages are short and never show a secret.

Found by a hostile review: an alias bomb ran out of memory, a 50 MB value was
echoed whole, deep nesting raised RecursionError, a Docker config.json given as
org.yaml printed its credentials, keys that are not text raised AttributeError,
and a carriage return went into the HCL. Each case here ends in a
ParameterError, or through ``runbook render`` in exit code 2 with nothing
written. Only messages are asserted, not time (these run in well under a second).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import yaml

from runbook_lib.cli import main
from runbook_lib.errors import LISTED_MAX, SHOWN_MAX, ParameterError
from runbook_lib.parameters import load_app, load_apps, load_org
from runbook_lib.parameters.loading import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES
from runbook_lib.render import render_roots
from runbook_lib.targets import make_target

ROOT = Path(__file__).resolve().parents[1]
ORG = ROOT / "parameters" / "org.yaml"
WEB = ROOT / "parameters" / "apps" / "web.yaml"
WORKER = ROOT / "parameters" / "apps" / "worker.yaml"
HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"

# A message about one bad file, however big the file, stays about this short.
SHORT_MESSAGE = 600


def org_error(path: Path) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        load_org(path)
    return info.value


def render(capsys, tmp_path: Path, org: Path, app: Path | None = None, out: Path | None = None) -> tuple[int, str]:
    """``runbook render`` in-process: its exit code and everything it printed."""
    out = out or tmp_path / "build"
    code = main(["render", "--org", str(org), *(["--app", str(app)] if app else []), "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def org_text(**replace: str) -> str:
    text = ORG.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text


# --- size, aliases, depth, number of values ----------------------------------------------


def test_file_over_the_size_limit_is_refused_before_parsing(tmp_path, capsys):
    path = tmp_path / "org.yaml"
    path.write_text('namespace: "' + "A" * 50_000_000 + '"\n', encoding="utf-8")

    code, output = render(capsys, tmp_path, path)

    assert code == 2
    assert f"{path}: is larger than {MAX_FILE_BYTES:,} bytes, the most a parameters file may be" in output
    assert "AAAAAAAAAA" not in output
    assert len(output) < SHORT_MESSAGE
    assert not (tmp_path / "build").exists()


def test_file_at_the_size_limit_is_read(tmp_path):
    path = tmp_path / "org.yaml"
    text = ORG.read_text(encoding="utf-8")
    path.write_text(text + "#" * (MAX_FILE_BYTES - len(text.encode("utf-8"))), encoding="utf-8")
    assert path.stat().st_size == MAX_FILE_BYTES
    load_org(path)
    path.write_text(path.read_text(encoding="utf-8") + "#", encoding="utf-8")
    [issue] = org_error(path).issues
    assert issue.rule.startswith("is larger than")


def billion_laughs() -> str:
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, 10):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\nnamespace: *lol9\n"


def test_alias_bomb_is_refused_at_its_first_alias(tmp_path, capsys):
    path = tmp_path / "org.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")

    code, output = render(capsys, tmp_path, path)

    assert code == 2
    assert f"{path}: is refused at line 2, column 14: it uses the YAML alias '*lol0'; parameters files take no aliases" in output
    assert len(output) < SHORT_MESSAGE


def test_shipped_files_use_no_alias():
    """Refusing aliases costs nothing: the examples and the corpus's good files have none."""
    files = [ORG, *sorted((ROOT / "parameters" / "apps").glob("*.yaml")),
             *sorted((Path(__file__).parent / "fixtures" / "bad_params" / "support").glob("*.yaml"))]
    for path in files:
        events = yaml.parse(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        assert not any(isinstance(event, yaml.AliasEvent) for event in events), path


@pytest.mark.parametrize("shape", ["flow", "block"])
def test_deep_nesting_is_refused(tmp_path, capsys, shape):
    path = tmp_path / "org.yaml"
    if shape == "flow":
        path.write_text("namespace: " + "[" * 20_000 + "]" * 20_000 + "\n", encoding="utf-8")
    else:
        path.write_text("".join("  " * i + f"k{i}:\n" for i in range(600)) + "  " * 600 + "x\n", encoding="utf-8")

    code, output = render(capsys, tmp_path, path)

    assert code == 2
    assert f"it nests values more than {MAX_DEPTH} levels deep" in output
    assert "RecursionError" not in output
    assert len(output) < SHORT_MESSAGE


def test_nesting_up_to_the_limit_is_read(tmp_path):
    """MAX_DEPTH levels are read (the file is then wrong for other reasons); one more is refused."""
    path = tmp_path / "org.yaml"
    # the top-level mapping is one level, the scalar at the bottom another
    path.write_text("x: " + "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2) + "\n", encoding="utf-8")
    assert "refused" not in str(org_error(path))
    path.write_text("x: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n", encoding="utf-8")
    assert "levels deep" in str(org_error(path))


def test_too_many_values_are_refused(tmp_path, capsys):
    path = tmp_path / "org.yaml"
    path.write_text("namespace: acme\nitems:\n" + "".join(f"  - item{i}\n" for i in range(3 * MAX_VALUES)), encoding="utf-8")

    code, output = render(capsys, tmp_path, path)

    assert code == 2
    assert f"it holds more than {MAX_VALUES:,} values" in output
    assert len(output) < SHORT_MESSAGE


@pytest.mark.parametrize("value, kind", [("9" * 5000, "number"), ("2024-02-30", "date")])
def test_value_the_yaml_library_cannot_build_is_reported(tmp_path, capsys, value, kind):
    path = tmp_path / "org.yaml"
    path.write_text(f"namespace: {value}\n", encoding="utf-8")

    code, output = render(capsys, tmp_path, path)

    assert code == 2
    assert f"YAML takes it for a {kind} and it is not a valid one; quote it to keep it as text" in output
    assert "Traceback" not in output
    assert len(output) < SHORT_MESSAGE


# --- long values are cut ---------------------------------------------------------------------


def test_long_value_is_cut_in_the_message(tmp_path, capsys):
    path = tmp_path / "org.yaml"
    path.write_text(org_text(**{"namespace: acme": "namespace: " + "a" * 900_000}), encoding="utf-8")

    code, output = render(capsys, tmp_path, path)

    assert code == 2
    shown = "'" + "a" * SHOWN_MAX + "'... (900,000 characters)"
    assert f"namespace = {shown} is not a valid name here" in output
    assert "a" * (SHOWN_MAX + 1) not in output
    assert len(output) < SHORT_MESSAGE


def test_control_character_deep_in_a_long_value_is_located(tmp_path):
    value = "x" * 4000 + "\r" + "y" * 1000
    path = tmp_path / "web.yaml"
    path.write_text(WEB.read_text(encoding="utf-8").replace("LOG_LEVEL: info", f'LOG_LEVEL: "{value}"'.replace("\r", "\\r")),
                    encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        load_app(path, load_org(ORG), ORG)
    [issue] = info.value.issues
    assert str(issue) == (
        f"{path}: deploy_env_vars.LOG_LEVEL = '{'x' * SHOWN_MAX}'... (5,001 characters) holds the control "
        "character '\\r' (U+000D) at character 4001; text in a parameters file stays on one line, without control characters"
    )


def test_message_lists_the_first_issues_and_counts_the_rest(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text(org_text() + "".join(f"extra_{i}: x\n" for i in range(LISTED_MAX + 20)), encoding="utf-8")
    error = org_error(path)
    lines = str(error).splitlines()
    assert len(error.issues) == LISTED_MAX + 20
    assert lines[0] == f"{LISTED_MAX + 20} problems in the parameters:"
    assert len(lines) == 1 + LISTED_MAX + 1
    assert lines[-1] == "  ... and 20 more problems (fix these first)"


# --- credentials in a file given by mistake ---------------------------------------------------

DOCKER_SECRETS = [
    "ZmFrZS11c2VyOmdocF9GQUtFVE9LRU4wMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw",
    "ZmFrZS11c2VyOmRja3JfcGF0X0ZBS0VUT0tFTjAwMDAwMDAwMDA=",
    "fake-identity-token-0000000000000000",
    "fake-header-token-0000000000",
    "fake-desktop-helper",
]
KUBE_SECRETS = [
    "fake-kube-bearer-token-0000000000000000",
    "RkFLRS1DTElFTlQtS0VZLTAwMDAwMDAwMDAwMDAw",
    "RkFLRS1DQS1EQVRBLTAwMDAwMDAwMDAwMDAwMDA=",
    "fake-aws-secret-key-0000000000000000",
]


@pytest.mark.parametrize("name, secrets, keys", [
    ("docker-config.json", DOCKER_SECRETS, 3),
    ("kubeconfig.yaml", KUBE_SECRETS, 7),
])
@pytest.mark.parametrize("given_as", ["org", "app"])
def test_credentials_file_given_as_parameters_shows_no_secret(tmp_path, capsys, name, secrets, keys, given_as):
    path = HOSTILE / name
    for secret in secrets:
        assert secret in path.read_text(encoding="utf-8")

    if given_as == "org":
        code, output = render(capsys, tmp_path, path)
        kind = "an organization"
    else:
        code, output = render(capsys, tmp_path, ORG, path)
        kind = "an application"

    assert code == 2
    assert (f"{path}: has none of the fields of {kind} parameters file (it has {keys} other top-level keys, "
            "not shown); is it the right file?") in output
    for secret in secrets:
        assert secret not in output
    assert not (tmp_path / "build").exists()


def test_credentials_beside_real_fields_are_never_shown(tmp_path, capsys):
    """Unknown fields show no value at all; a known field of the wrong type shows its kind and size."""
    docker = (HOSTILE / "docker-config.json").read_text(encoding="utf-8")
    kube = yaml.safe_load((HOSTILE / "kubeconfig.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "org.yaml"
    path.write_text(
        org_text(**{"  owner: platform\n": "  owner: platform\n  registry: " + docker.replace("\n", " ") + "\n"})
        + "auths: " + docker.replace("\n", " ") + "\n"
        + "users: " + yaml.safe_dump(kube["users"], default_flow_style=True)
        + "kube_token: " + kube["users"][0]["user"]["token"] + "\n",
        encoding="utf-8",
    )

    code, output = render(capsys, tmp_path, path)

    assert code == 2
    assert f"{path}: tags.registry = <mapping of 3 keys> must be a string" in output
    assert f"{path}: auths = <mapping of 3 keys> is not a known field here" in output
    assert f"{path}: users = <list of 2 items> is not a known field here" in output
    assert f"{path}: kube_token = <text of 39 characters> is not a known field here" in output
    for secret in DOCKER_SECRETS + KUBE_SECRETS:
        assert secret not in output


# --- keys that are not text -------------------------------------------------------------------


@pytest.mark.parametrize("key, shown", [("1", "1"), ("~", "None"), ("yes", "True"), ("1.5", "1.5")])
def test_env_var_key_that_is_not_text_is_an_issue_not_a_traceback(tmp_path, capsys, key, shown):
    path = tmp_path / "web.yaml"
    path.write_text(WEB.read_text(encoding="utf-8").replace("  LOG_LEVEL: info", f"  LOG_LEVEL: info\n  {key}: x"),
                    encoding="utf-8")

    code, output = render(capsys, tmp_path, ORG, path)

    assert code == 2
    assert f"{path}: deploy_env_vars (key) = {shown} is " in output
    assert "but keys are names: quote it" in output
    assert "Traceback" not in output


# --- applications sharing a repository --------------------------------------------------------


def shared(tmp_path: Path, field: str, value: str) -> Path:
    path = tmp_path / "worker.yaml"
    text = WORKER.read_text(encoding="utf-8")
    path.write_text(re.sub(rf"^{field}: .*$", f"{field}: {value}", text, count=1, flags=re.M), encoding="utf-8")
    return path


@pytest.mark.parametrize("field, kind, value, shown", [
    ("manifests_repository", "manifests", "acme-co/web-manifests", "acme-co/web-manifests"),
    ("manifests_repository", "manifests", "Acme-Co/Web-Manifests", "Acme-Co/Web-Manifests"),
    ("source_repository", "source", "acme-co/web", "acme-co/web"),
])
def test_apps_loaded_together_may_not_share_a_repository(tmp_path, field, kind, value, shown):
    worker = shared(tmp_path, field, value)
    org = load_org(ORG)
    load_app(worker, org, ORG)  # fine alone

    with pytest.raises(ParameterError) as info:
        load_apps([WEB, worker], org, ORG)

    [issue] = info.value.issues
    assert str(issue) == (
        f"{worker}: {field} = {shown!r} is already the {kind} repository of application 'web' ({WEB}); "
        f"application 'worker' needs its own, or its {kind} buildspec would overwrite the other's"
    )


def test_render_does_not_overwrite_another_apps_manifests_buildspec(tmp_path, capsys):
    worker = shared(tmp_path, "manifests_repository", "acme-co/web-manifests")
    out = tmp_path / "build"
    buildspec = out / "repositories" / "acme-co" / "web-manifests" / "codebuild" / "manifests.yml"
    assert render(capsys, tmp_path, ORG, WEB, out)[0] == 0
    before = buildspec.read_bytes()

    code, output = render(capsys, tmp_path, ORG, worker, out)

    assert code == 2
    assert "web" in output and "worker" in output
    assert buildspec.read_bytes() == before


# --- the clash rule agrees with the names the renderer writes ---------------------------------

CLUSTER_NAMES = ["c", "C", "b-c", "b_c", "a-b-c"]
ACCOUNTS = {"a": "222222222222", "a-b": "333333333333"}


def org_with(clusters: list[tuple[str, str, str | None]]) -> dict:
    data = yaml.safe_load(ORG.read_text(encoding="utf-8"))
    data["accounts"]["workloads"] = {name: {"id": ident, "clusters": []} for name, ident in ACCOUNTS.items()}
    for account, cluster, region in clusters:
        data["accounts"]["workloads"][account]["clusters"].append({"name": cluster, **({"region": region} if region else {})})
    return data


def test_clash_rule_refuses_exactly_the_orgs_the_renderer_cannot_write(tmp_path):
    """Every pair of clusters: accepted orgs render unique module and role names, refused ones would not."""
    target = make_target("live")
    choices = list(itertools.product(ACCOUNTS, CLUSTER_NAMES, [None, "us-west-2"]))
    path = tmp_path / "org.yaml"
    accepted = refused = 0
    for first, second in itertools.combinations(choices, 2):
        data = org_with([first, second])
        for name in ACCOUNTS:  # an account without clusters is a different rule
            if not data["accounts"]["workloads"][name]["clusters"]:
                data["accounts"]["workloads"][name]["clusters"].append({"name": f"only-{name}"})
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        clusters = [(a, c["name"]) for a, acc in data["accounts"]["workloads"].items() for c in acc["clusters"]]
        roles = [(ACCOUNTS[a], f"{c}-deploy".lower()) for a, c in clusters]
        try:
            org = load_org(path)
        except ParameterError as error:
            refused += 1
            assert all("gives the Terraform module name" in str(issue) for issue in error.issues), str(error)
            modules = [f"deploy_role_{a}_{c}".replace("-", "_").lower() for a, c in clusters]
            assert len(set(modules)) < len(modules) or len(set(roles)) < len(roles), str(error)
            continue
        accepted += 1
        main_tf = render_roots(org, None, target)[0].files["main.tf"]
        modules = re.findall(r'^module "(deploy_role_[^"]+)"', main_tf, flags=re.M)
        assert len(modules) == len(clusters)
        assert len(set(modules)) == len(modules), main_tf
        assert len(set(roles)) == len(roles)
    assert accepted and refused


# --- names that reach IAM are ASCII; tags fit AWS's limits ----------------------------------

# 'о' (U+043E) and 'е' (U+0435) are Cyrillic letters that look Latin.
CYRILLIC_O, CYRILLIC_E = "\u043e", "\u0435"


@pytest.mark.parametrize("which, old, new, field", [
    # each of these becomes part of an IAM role name
    ("org", "- name: acme-production", f"- name: acme-pr{CYRILLIC_O}duction",
     "accounts.workloads.production.clusters[0].name"),                    # <cluster>-deploy
    ("org", "namespace: acme", f"namespace: acm{CYRILLIC_E}", "namespace"),  # CodeBuild and pipeline roles
    ("org", "terraform_role_name: terraform-execution", f"terraform_role_name: t{CYRILLIC_E}rraform-execution",
     "terraform_role_name"),
    ("app", "name: web", f"name: w{CYRILLIC_E}b", "name"),
    ("app", "- name: staging", "- name: stagi\u043fg", "stages[0].name"),  # <namespace>-<app>-<stage>-pipeline
], ids=["cluster", "namespace", "terraform-role", "app-name", "stage-name"])
def test_names_in_iam_roles_must_be_ascii(tmp_path, capsys, which, old, new, field):
    org, app = tmp_path / "org.yaml", tmp_path / "web.yaml"
    org.write_text(org_text(**({old: new} if which == "org" else {})), encoding="utf-8")
    web = WEB.read_text(encoding="utf-8")
    app.write_text(web.replace(old, new, 1) if which == "app" else web, encoding="utf-8")
    out = tmp_path / "build"

    code, output = render(capsys, tmp_path, org, app, out)

    assert code == 2
    assert f"{org if which == 'org' else app}: {field} = " in output
    assert "ASCII" in output
    assert "Traceback" not in output
    assert not out.exists()


def org_with_tags(count: int) -> str:
    return org_text() + "".join(f"  extra-{i}: x\n" for i in range(count - 2))  # org.yaml has 2 tags


def test_org_tags_and_the_runbooks_own_fit_fifty(tmp_path, capsys):
    from runbook_lib.naming import RUNBOOK_TAG_KEYS, TAGS_PER_RESOURCE_MAX

    allowed = TAGS_PER_RESOURCE_MAX - len(RUNBOOK_TAG_KEYS)
    assert allowed == 49
    path = tmp_path / "org.yaml"
    path.write_text(org_with_tags(allowed), encoding="utf-8")
    code, output = render(capsys, tmp_path, path, WEB)
    assert code == 0, output
    ci = (tmp_path / "build" / "infra" / "ci" / "web" / "main.tf").read_text(encoding="utf-8")
    assert ci.count(' = "x"') + 3 == TAGS_PER_RESOURCE_MAX  # 47 extra + owner + managed-by + application

    path.write_text(org_with_tags(allowed + 1), encoding="utf-8")
    [issue] = org_error(path).issues
    assert str(issue) == (
        f"{path}: tags = <mapping of 50 keys> holds 50 tags; at most 49 are allowed "
        "(AWS takes 50 tags per resource and the runbook adds its own: application)"
    )


def test_org_tag_may_not_use_a_key_the_runbook_sets(tmp_path, capsys):
    path = tmp_path / "org.yaml"
    path.write_text(org_text() + "  application: billing\n", encoding="utf-8")
    out = tmp_path / "build"
    code, output = render(capsys, tmp_path, path, WEB, out)
    assert code == 2
    assert (f"{path}: tags.application (key) = 'application' is a tag key the runbook sets itself "
            "on resources (application); choose another key") in output
    assert not out.exists()


def test_an_out_folder_whose_name_looks_like_markup_is_printed_as_written(capsys, tmp_path):
    """Hostile: `[/]` and `[bold]` in a path are text; Rich took them for markup and the render exited 1 after writing."""
    out = tmp_path / "we[/]ird[bold]"
    code, said = render(capsys, tmp_path, ORG, WEB, out=out)
    assert code == 0, said
    assert str(out) in said and "MarkupError" not in said and "Traceback" not in said
    assert (out / "infra" / "cicd-common" / "main.tf").is_file()
