"""dpm.yaml, environments and --var: where vars come from and how problems in them are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpm.config.project import load_project, parse_var
from dpm.errors import UsageError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ctx=8192", ("ctx", 8192)), ("on=true", ("on", True)), ("name=acme", ("name", "acme")), ("e=", ("e", ""))],
)
def test_var_values_are_yaml_scalars(text: str, expected: tuple[str, object]) -> None:
    assert parse_var(text) == expected


def test_var_keeps_structured_text_as_a_string() -> None:
    assert parse_var("list=[1, 2]") == ("list", "[1, 2]")


def test_precedence_dpm_yaml_then_environment_then_var(tmp_path: Path) -> None:
    (tmp_path / "providers.d").mkdir()
    (tmp_path / "dpm.yaml").write_text("registry: http://a/api\nvars: {a: 1, b: 1, c: 1}\n")
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "prod.yaml").write_text("registry: http://b/api\nvars: {b: 2, c: 2}\n")
    project, problems = load_project([str(tmp_path / "providers.d")], "prod", ["c=3"])
    assert problems == []
    assert project.vars == {"a": 1, "b": 2, "c": 3}
    assert project.registry == "http://b/api"
    assert project.root == tmp_path.resolve()


def test_problems_in_dpm_yaml_are_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "dpm.yaml").write_text("vars: {}\nprune: maybe\nmaxDelete: 3\n")
    project, problems = load_project([str(tmp_path)], None, [])
    assert {(p.line, p.code) for p in problems} == {(2, "type"), (3, "unknown-key")}
    assert next(p for p in problems if p.code == "unknown-key").suggestion == "did you mean 'maxDeletes'?"
    assert project.settings.maxDeletes == 5


def test_dpm_yaml_higher_up_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "dpm.yaml").write_text("vars: {a: 1}\n")
    deep = tmp_path / "x" / "y"
    deep.mkdir(parents=True)
    project, _ = load_project([str(deep)], None, [])
    assert project.root is None
    assert project.vars == {}


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "dpm.yaml").write_text("{}\n")
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "staging.yaml").write_text("vars: {}\n")
    with pytest.raises(UsageError) as raised:
        load_project([str(tmp_path)], "stagign", [])
    assert raised.value.hint == "did you mean 'staging'?"


@pytest.mark.parametrize(
    "text",
    ["x=!!int abc", "x=!!python/object:os.system ls", "x=!foo bar", "x=" + "1" * 5000, "x=a\x01b", "x=[1, 2"],
)
def test_a_var_that_is_no_plain_yaml_value_is_kept_as_text(text: str) -> None:
    assert parse_var(text) == ("x", text[2:])


@pytest.mark.parametrize("name", ["../dpm", "sub/prod", "..", ".", "", "a\\b", "a\x01b"])
def test_an_environment_name_that_is_a_path_is_refused(name: str, tmp_path: Path) -> None:
    (tmp_path / "dpm.yaml").write_text("vars: {a: 1}\n")
    (tmp_path / "environments" / "sub").mkdir(parents=True)
    (tmp_path / "environments" / "sub" / "prod.yaml").write_text("vars: {}\n")
    with pytest.raises(UsageError) as raised:
        load_project([str(tmp_path)], name, [])
    assert raised.value.message == f"--env {name!r} is not an environment name"
    assert raised.value.hint == "name a file in environments/, e.g. --env prod"


@pytest.mark.parametrize(
    ("text", "message"),
    [("- a\n", "must be a mapping, got a list"), ("42\n", "must be a mapping, got integer 42")],
)
def test_an_environment_file_that_is_not_a_mapping_is_a_diagnostic(text: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "dpm.yaml").write_text("vars: {a: 1}\n")
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "prod.yaml").write_text(text)
    project, problems = load_project([str(tmp_path)], "prod", [])
    (problem,) = problems
    assert (problem.file, problem.line, problem.column) == (str(tmp_path / "environments" / "prod.yaml"), 1, 1)
    assert message in problem.message
    assert project.vars == {"a": 1}
