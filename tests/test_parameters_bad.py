"""Bad parameters files: every broken rule is reported clearly, and nothing is written.

The cases live in ``tests/fixtures/bad_params/``. Each ``org_*.yaml`` file is
loaded with :func:`load_org`; each ``app_*.yaml`` file with :func:`load_app`
against ``support/org_for_apps.yaml`` (the shipped organization plus the
clusters the fixtures deploy to). A fixture states what it expects in
its leading comment lines, so adding a case needs no change here:

``# expect: TEXT``
    TEXT must appear in one issue of the raised :class:`ParameterError`. Give one
    line per expected issue; the number of issues must equal the number of
    ``expect`` lines. ``{org}`` and ``{file}`` stand for the organization file
    and the fixture's own path.
``# issues: N``
    Overrides that count when several ``expect`` lines describe one issue.
``# org: RELATIVE/PATH.yaml``
    (app fixtures) load against this organization file instead, relative to
    the fixtures directory.
``# xfail: REASON``
    The library does not yet behave as the fixture says; the case is marked
    ``xfail(strict=True)`` so it starts failing once the library is fixed.

Other leading comment lines are free text explaining the case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runbook_lib.cli import main
from runbook_lib.errors import MISSING, ParameterError, ParameterIssue, printable
from runbook_lib.parameters import load_app, load_apps, load_org

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bad_params"
ORG = ROOT / "parameters" / "org.yaml"
# The shipped organization plus the clusters the app fixtures deploy to.
APP_ORG = FIXTURES / "support" / "org_for_apps.yaml"
APPS = sorted((ROOT / "parameters" / "apps").glob("*.yaml"))

# Rules that concern a whole file rather than one field in it.
WHOLE_FILE_RULES = (
    "does not exist or is not a file",
    "cannot be read",
    "is larger than",
    "is not valid YAML at",
    "is refused at",
    "is not UTF-8 text",
    "must hold a YAML mapping of fields at the top level",
    "has none of the fields of",
)

MINIMUM_FIXTURES = 36


@dataclass
class Case:
    path: Path
    expects: list[str] = field(default_factory=list)
    issues: int | None = None
    org: Path = APP_ORG
    xfail: str | None = None

    @property
    def kind(self) -> str:
        return self.path.name.split("_", 1)[0]

    @property
    def expected_count(self) -> int:
        return self.issues if self.issues is not None else len(self.expects)

    def expanded(self) -> list[str]:
        return [e.replace("{org}", str(self.org)).replace("{file}", str(self.path)) for e in self.expects]


def read_case(path: Path) -> Case:
    case = Case(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line.lstrip("#").strip().partition(":")
        if not sep:
            continue
        value = value.strip()
        if key == "expect":
            case.expects.append(value)
        elif key == "issues":
            case.issues = int(value)
        elif key == "org":
            case.org = FIXTURES / value
        elif key == "xfail":
            case.xfail = value
    return case


def fixture_paths() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*.yaml") if p.is_file())


def case_params():
    params = []
    for path in fixture_paths():
        case = read_case(path)
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        params.append(pytest.param(case, id=path.stem, marks=marks))
    return params


def load(case: Case):
    """Load a fixture the way its name says; return the ParameterError it raises."""
    with pytest.raises(ParameterError) as info:
        if case.kind == "org":
            load_org(case.path)
        else:
            load_app(case.path, load_org(case.org), case.org)
    return info.value


def assert_clear(issue: ParameterIssue, path: Path) -> None:
    """An issue names the file first, then the field, the value (if any) and the rule."""
    text = str(issue)
    assert issue.file == str(path), text
    assert text.startswith(f"{path}: "), text
    assert issue.rule and text.endswith(issue.rule), text
    if issue.field:
        assert text.startswith(f"{path}: {printable(issue.field)}"), text
    else:
        assert issue.rule.startswith(WHOLE_FILE_RULES), f"no field named in: {text}"
    if issue.value is not MISSING:
        assert f" = {issue.shown_value()} " in text, text


# --- the corpus itself --------------------------------------------------------------------


def test_corpus_is_large_enough_and_well_formed():
    paths = fixture_paths()
    assert len(paths) >= MINIMUM_FIXTURES
    for path in paths:
        case = read_case(path)
        assert case.kind in ("org", "app"), f"{path.name}: name must start with org_ or app_"
        assert case.expects, f"{path.name}: has no '# expect:' line"
        assert case.org.is_file(), f"{path.name}: its '# org:' file {case.org} is missing"
        if case.kind == "org":
            assert case.org == APP_ORG, f"{path.name}: '# org:' only applies to app fixtures"


@pytest.mark.parametrize("case", case_params())
def test_bad_file_is_reported(case: Case):
    error = load(case)
    message = str(error)
    count = len(error.issues)

    assert message.splitlines()[0] == f"{count} problem{'s' if count != 1 else ''} in the parameters:"
    for issue in error.issues:
        assert f"  - {issue}" in message.splitlines()
        assert_clear(issue, case.path)

    issue_texts = [str(issue) for issue in error.issues]
    for expect in case.expanded():
        assert expect in message
        assert any(expect in text for text in issue_texts), f"{expect!r} is not within one issue of:\n{message}"
    assert count == case.expected_count, message


# --- whole files that cannot carry an '# expect:' header ----------------------------------


@pytest.mark.parametrize("kind", ["org", "app"])
def test_file_that_does_not_exist(tmp_path, kind):
    path = tmp_path / "nowhere" / f"{kind}.yaml"
    with pytest.raises(ParameterError) as info:
        if kind == "org":
            load_org(path)
        else:
            load_app(path, load_org(APP_ORG), APP_ORG)
    [issue] = info.value.issues
    assert_clear(issue, path)
    assert str(issue) == f"{path}: does not exist or is not a file"


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ParameterError) as info:
        load_org(tmp_path)
    [issue] = info.value.issues
    assert str(issue) == f"{tmp_path}: does not exist or is not a file"


@pytest.mark.parametrize("content", [b"", b"\n\n", b"   \n", b"---\n", b"~\n"], ids=["zero-bytes", "newlines", "spaces", "bare-document", "null"])
@pytest.mark.parametrize("kind", ["org", "app"])
def test_empty_file(tmp_path, kind, content):
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(content)
    with pytest.raises(ParameterError) as info:
        if kind == "org":
            load_org(path)
        else:
            load_app(path, load_org(APP_ORG), APP_ORG)
    [issue] = info.value.issues
    assert_clear(issue, path)
    assert str(issue) == f"{path}: must hold a YAML mapping of fields at the top level"


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_bytes(ORG.read_text(encoding="utf-8").replace("platform", "plat\xe9form").encode("latin-1"))
    with pytest.raises(ParameterError) as info:
        load_org(path)
    [issue] = info.value.issues
    assert_clear(issue, path)
    assert str(issue) == f"{path}: is not UTF-8 text"


# --- many problems at once ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, count",
    [
        ("org_several_field_problems", 4),
        ("org_several_cross_field_problems", 3),
        ("app_several_field_problems", 5),
        ("app_several_cross_field_problems", 4),
        ("app_same_cluster_twice_in_stage", 2),
    ],
)
def test_all_problems_of_a_file_are_reported_together(name, count):
    case = read_case(FIXTURES / f"{name}.yaml")
    error = load(case)
    assert len(error.issues) == count, str(error)
    assert str(error).splitlines()[0] == f"{count} problems in the parameters:"
    assert len(str(error).splitlines()) == count + 1
    for expect in case.expanded():
        assert sum(expect in str(issue) for issue in error.issues) == 1, expect
    # Each expected problem is a separate issue, not one issue matched twice.
    matched = {next(i for i, issue in enumerate(error.issues) if expect in str(issue)) for expect in case.expanded()}
    assert len(matched) == count


def test_load_apps_reports_every_file_together():
    org = load_org(APP_ORG)
    paths = [FIXTURES / "app_name_uppercase.yaml", *APPS, FIXTURES / "app_branch_double_dot.yaml"]
    with pytest.raises(ParameterError) as info:
        load_apps(paths, org, APP_ORG)
    files = [issue.file for issue in info.value.issues]
    assert files == [str(paths[0]), str(paths[-1])]


def test_load_apps_rejects_two_files_with_one_name(tmp_path):
    org = load_org(ORG)
    copy = tmp_path / "web-again.yaml"
    copy.write_text(APPS[0].read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        load_apps([APPS[0], copy], org, ORG)
    [issue] = info.value.issues
    assert_clear(issue, copy)
    name = load_app(APPS[0], org, ORG).name
    assert str(issue) == f"{copy}: name = {name!r} is already the name of the application in {APPS[0]}"


# --- the shipped examples are good ---------------------------------------------------------


def test_shipped_examples_load():
    assert APPS, "parameters/apps/ holds no examples"
    org = load_org(ORG)
    for path in APPS:
        load_app(path, org, ORG)
    assert [app.name for app in load_apps(APPS, org, ORG)]


def test_support_org_files_are_valid():
    for path in sorted((FIXTURES / "support").glob("*.yaml")):
        load_org(path)


# --- `runbook render` with bad parameters ---------------------------------------------------


def render_args(case: Case, out: Path) -> list[str]:
    if case.kind == "org":
        return ["render", "--org", str(case.path), "--out", str(out)]
    return ["render", "--org", str(case.org), "--app", str(case.path), "--out", str(out)]


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else b"<dir>", p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
    }


RENDER_CASES = ["org_bucket_double_dot", "org_several_field_problems", "app_stage_names_repeat", "app_several_field_problems",
                "org_cluster_module_name_across_accounts", "app_deploy_env_var_value_carriage_return",
                "app_deploy_env_var_key_integer", "app_yaml_alias", "org_is_a_kubeconfig"]


@pytest.mark.parametrize("name", RENDER_CASES)
def test_failing_render_exits_2_and_writes_nothing(tmp_path, capsys, name):
    case = read_case(FIXTURES / f"{name}.yaml")
    out = tmp_path / "fresh" / "build"

    code = main(render_args(case, out))

    captured = capsys.readouterr()
    assert code == 2
    assert "error:" in captured.err
    for expect in case.expanded():
        assert expect in captured.err
    assert str(case.path) in captured.err
    assert captured.out == ""
    assert not out.exists()
    assert not out.parent.exists()


@pytest.mark.parametrize("name", RENDER_CASES)
def test_failing_render_leaves_existing_out_dir_alone(tmp_path, capsys, name):
    case = read_case(FIXTURES / f"{name}.yaml")
    out = tmp_path / "build"
    (out / "common").mkdir(parents=True)
    (out / "common" / "main.tf").write_text("# edited by hand\n", encoding="utf-8")
    (out / "notes.txt").write_bytes(b"keep me\n")
    before = snapshot(out)

    code = main(render_args(case, out))

    captured = capsys.readouterr()
    assert code == 2
    for expect in case.expanded():
        assert expect in captured.err
    assert captured.out == ""
    assert snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["build"]


def test_failing_render_for_missing_app_file(tmp_path, capsys):
    out = tmp_path / "build"
    missing = tmp_path / "apps" / "ghost.yaml"
    code = main(["render", "--org", str(ORG), "--app", str(missing), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert f"{missing}: does not exist or is not a file" in captured.err
    assert not out.exists()


def test_render_error_shows_bracketed_value_verbatim(tmp_path, capsys):
    case = read_case(FIXTURES / "app_branch_with_brackets.yaml")
    out = tmp_path / "build"
    code = main(render_args(case, out))
    captured = capsys.readouterr()
    assert code == 2
    assert "stages[0].branch = 'feature/[wip]' is not a valid git branch name" in captured.err
    assert not out.exists()


def test_render_error_with_closing_tag_value_exits_2(tmp_path, capsys):
    case = read_case(FIXTURES / "app_branch_with_closing_tag.yaml")
    out = tmp_path / "build"
    code = main(render_args(case, out))
    captured = capsys.readouterr()
    assert code == 2
    assert "stages[0].branch = 'fix/[/x]' is not a valid git branch name" in captured.err
    assert not out.exists()


def test_an_ecr_repository_name_leaves_room_for_the_base_image_mirror_suffix():
    """ECR names are at most 256 characters; the module adds '-base' for the base image's mirror repository."""
    from runbook_lib import naming

    longest = "a" * (256 - len(naming.ECR_BASE_MIRROR_SUFFIX))
    assert naming.ECR_REPOSITORY.check(longest) is None
    assert naming.ECR_REPOSITORY.check(longest + "a") is not None   # its mirror would be 257 characters
    assert naming.ECR_REPOSITORY.check("a") is not None   # and at least 2
