"""Shared options: each group reaches a command as one value, in the order it was declared, and bad project
settings stop a command before it does anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest

from dpm.commands.options import ConfigArgs, RegistryArgs, config_options, project_at, registry_options
from dpm.errors import DpmError
from dpm.registry.client import DEFAULT_MAX_WAIT
from tests.conftest import RunDpm

CONFIG_FLAGS = ["--env", "--var", "--require-secrets"]
REGISTRY_FLAGS = ["--registry", "--max-wait", "-v, --verbose"]


def recording_command() -> tuple[click.Command, dict[str, Any]]:
    """A command declared like dpm's registry commands, that keeps what it is handed."""
    received: dict[str, Any] = {}

    @click.command()
    @config_options
    @registry_options
    @click.option("--own", default="x")
    def command(**kwargs: Any) -> None:
        received.update(kwargs)

    return command, received


def test_each_option_group_reaches_the_command_as_one_value() -> None:
    command, received = recording_command()
    args = ["a", "b", "--env", "prod", "--var", "x=1", "--var", "y=2", "--registry", "embedded", "--max-wait", "5"]
    command.main([*args, "--own", "mine", "-v"], standalone_mode=False)
    assert received == {
        "config": ConfigArgs(("a", "b"), "prod", ("x=1", "y=2"), False),
        "registry": RegistryArgs("embedded", 5.0, True),
        "own": "mine",
    }


def test_left_out_options_take_their_defaults() -> None:
    command, received = recording_command()
    command.main([], standalone_mode=False)
    assert received["config"] == ConfigArgs((), None, (), False)
    assert received["registry"] == RegistryArgs(None, DEFAULT_MAX_WAIT, False)


def test_a_negative_max_wait_is_refused() -> None:
    command, received = recording_command()
    with pytest.raises(click.BadParameter) as refused:
        command.main(["--max-wait", "-1"], standalone_mode=False)
    assert "-1" in refused.value.format_message()
    assert received == {}


@pytest.mark.parametrize(
    ("name", "after"),
    [("plan", ["--prune / --no-prune", "--format", "-o, --out"]), ("drift", ["--format"]), ("validate", [])],
)
def test_help_lists_the_shared_options_in_their_declared_order(name: str, after: list[str], dpm: RunDpm) -> None:
    result = dpm(name, "--help")
    assert result.exit_code == 0
    flags = CONFIG_FLAGS + (REGISTRY_FLAGS if name != "validate" else []) + after + ["-h, --help"]
    lines = [line.strip() for line in result.out.splitlines()]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(flag)) for flag in flags]
    assert positions == sorted(positions), flags
    assert f"Usage: dpm {name} [OPTIONS] [PATH]..." in result.out


def test_invalid_project_settings_stop_with_the_problem_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dpm.yaml").write_text("scope: [team-*]\nmaxDeletes: -1\n")
    with pytest.raises(DpmError) as refused:
        project_at((str(tmp_path / "providers.d"),))
    assert refused.value.message == "the project settings are invalid"
    err = capsys.readouterr().err
    assert "dpm.yaml:2:13: error: maxDeletes:" in err
    assert "dpm.yaml: invalid, 1 error(s), 0 warning(s)" in err


def test_a_command_with_invalid_project_settings_exits_1_before_any_request(tmp_path: Path, dpm: RunDpm) -> None:
    (tmp_path / "dpm.yaml").write_text("registry: http://127.0.0.1:9/api\nprune: perhaps\n")
    result = dpm("dump", "--out", str(tmp_path / "providers.d"))
    assert result.exit_code == 1
    assert result.err.splitlines() == [
        f"{tmp_path / 'dpm.yaml'}:2:8: error: prune: must be true or false, got string 'perhaps'",
        "dpm.yaml: invalid, 1 error(s), 0 warning(s)",
        "dpm: error: the project settings are invalid",
    ]
    assert not (tmp_path / "providers.d").exists()


def test_valid_project_settings_are_read(tmp_path: Path) -> None:
    (tmp_path / "dpm.yaml").write_text("scope: [team-*]\nvars: {region: eu}\n")
    project = project_at((str(tmp_path / "providers.d"),), variables=("region=us",))
    assert (project.root, project.settings.scope, project.vars) == (tmp_path, ["team-*"], {"region": "us"})
