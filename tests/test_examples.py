"""The ready-made workflows, action and pre-commit hook: every dpm command line in them parses, and the hook runs."""

from __future__ import annotations

import re
import shlex
from typing import Any

import click
import pytest
import yaml

from dpm import __version__
from dpm.commands.main import cli
from tests.conftest import REPO, RunDpm


def _commands(node: Any) -> list[str]:
    """The ``with: command:`` of every step that uses the dpm action."""
    if isinstance(node, list):
        return [c for value in node for c in _commands(value)]
    if not isinstance(node, dict):
        return []
    found = [c for value in node.values() for c in _commands(value)]
    inputs = node.get("with")
    if "dpm" in str(node.get("uses", "")) and isinstance(inputs, dict):
        found.append(str(inputs["command"]))
    return found


WORKFLOWS = sorted((REPO / "examples" / "github" / "workflows").glob("*.yml"))
COMMANDS = [(path.name, command) for path in WORKFLOWS for command in _commands(yaml.safe_load(path.read_text()))]


@pytest.mark.parametrize(("workflow", "command"), COMMANDS, ids=[f"{w}: {c}" for w, c in COMMANDS])
def test_every_command_line_in_the_workflows_parses(workflow: str, command: str) -> None:
    name, *args = shlex.split(command)
    with click.Context(cli) as context:
        sub = cli.get_command(context, name)
        assert sub is not None, f"{workflow}: no command {name}"
        sub.make_context(name, list(args), parent=context)


def test_the_workflows_cover_plan_apply_and_drift() -> None:
    names = {shlex.split(command)[0] for _, command in COMMANDS}
    assert {"validate", "plan", "apply", "drift"} <= names


HOOKS = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())


@pytest.mark.parametrize("hook", HOOKS, ids=[hook["id"] for hook in HOOKS])
def test_each_pre_commit_hook_runs(hook: dict[str, Any], dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each hook passes on the example config, given the files pre-commit would pass it."""
    monkeypatch.chdir(REPO)
    program, *args = shlex.split(hook["entry"])
    candidates = sorted(str(p.relative_to(REPO)) for p in REPO.glob("**/*.y*ml") if ".venv" not in p.parts)
    files = [name for name in candidates if re.search(hook["files"], name)] if hook.get("pass_filenames", True) else []
    assert program == "dpm"
    assert hook.get("pass_filenames", True) == bool(files)
    assert dpm(*args, *files).exit_code == 0


def test_the_hooks_validate_and_format() -> None:
    assert {hook["id"] for hook in HOOKS} >= {"dpm-validate", "dpm-fmt"}


def test_the_action_installs_its_own_release_once_per_job() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    # The pinned release is this version of dpm: one source, checked here.
    assert action["inputs"]["version"]["default"] == __version__
    install = next(step for step in action["runs"]["steps"] if step.get("name") == "Install dpm")
    assert 'pip install --quiet "dpm-gitops==$DPM_VERSION"' in install["run"]
    assert install["if"] == "steps.installed.outputs.found != 'true'"


def test_every_failed_step_of_the_apply_workflow_stops_there() -> None:
    # core.setFailed marks the step failed but does not stop the script: each one must be followed by a return.
    text = (REPO / "examples" / "github" / "workflows" / "dpm-apply.yml").read_text()
    lines = text.splitlines()
    failing = [i for i, line in enumerate(lines) if "core.setFailed(" in line]
    assert failing
    assert all(lines[i + 1].strip() == "return;" for i in failing)
