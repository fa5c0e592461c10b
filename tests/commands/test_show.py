"""dpm show: a saved plan printed as it was reviewed, with the checks of dpm apply --plan and no registry."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, RunDpm, example_secrets
from tests.e2e.conftest import DPM, clean_environment

CANARY = "sk-canary-show-8e1d"
SECRETS = example_secrets(CANARY)


@pytest.fixture
def saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dpm: RunDpm) -> Path:
    """A plan of the example config against a new embedded registry, saved, then moved away from the repository."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "providers.d", repo / "providers.d")
    shutil.copy(REPO / "dpm.yaml", repo / "dpm.yaml")
    monkeypatch.chdir(repo)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert dpm("plan", "-o", "plan.json").exit_code == 0
    elsewhere = tmp_path / "review"
    elsewhere.mkdir()
    shutil.move(repo / "plan.json", elsewhere / "plan.json")
    monkeypatch.chdir(elsewhere)
    return elsewhere / "plan.json"


def test_text_shows_the_plan_as_plan_printed_it_and_how_to_apply_it(saved: Path, dpm: RunDpm) -> None:
    shown = dpm("show", str(saved))
    assert shown.exit_code == 0, shown.err
    assert shown.out.startswith("dpm plan for embedded registry")
    assert "+ provider openai" in shown.out
    assert " to create, 0 to update, 0 to delete." in shown.out
    assert shown.out.rstrip().endswith(f"Apply exactly this plan with: dpm apply --plan {saved}")
    assert CANARY not in shown.out + shown.err
    assert not (saved.parent / ".dpm").exists()  # no registry was opened, not even the embedded one


def test_json_is_the_saved_plan_itself(saved: Path, dpm: RunDpm) -> None:
    shown = dpm("show", str(saved), "--format", "json")
    assert shown.exit_code == 0
    assert json.loads(shown.out) == json.loads(saved.read_text())


def test_markdown_is_the_pull_request_comment(saved: Path, dpm: RunDpm) -> None:
    shown = dpm("show", str(saved), "--format", "markdown")
    assert shown.exit_code == 0
    assert shown.out.startswith("### dpm plan for the embedded registry")
    assert "<details><summary>" in shown.out


def test_a_plan_edited_after_it_was_saved_is_refused(saved: Path, dpm: RunDpm) -> None:
    saved.write_text(saved.read_text().replace('"Anthropic"', '"Anthropic (edited)"', 1))
    shown = dpm("show", str(saved))
    assert shown.exit_code == 1
    assert shown.out == ""
    assert "was modified after dpm wrote it (its checksum does not match)" in shown.err
    assert "hint: make a new plan" in shown.err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such plan file"), ('{"kind": "Provider"}', "is not a dpm plan"), ("not json", "is not a dpm plan")],
)
def test_what_is_not_a_saved_plan_is_a_clear_error(
    tmp_path: Path, dpm: RunDpm, content: str | None, message: str
) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    shown = dpm("show", str(path))
    assert shown.exit_code == 1
    assert message in shown.err
    assert "Traceback" not in shown.err


def test_the_real_executable_shows_a_plan_with_no_registry_reachable(saved: Path) -> None:
    """A registry URL that nothing answers on: show never needs it."""
    env = clean_environment(DPM_REGISTRY_URL="http://127.0.0.1:9/api")
    done = subprocess.run(
        [DPM, "show", saved.name], cwd=saved.parent, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "+ provider anthropic" in done.stdout
    assert "\x1b[" not in done.stdout  # piped: plain


@pytest.mark.parametrize(("version", "made_by"), [(1, "an older"), (3, "a newer")])
def test_a_plan_of_another_format_version_is_refused_with_what_to_do(
    saved: Path, dpm: RunDpm, version: int, made_by: str
) -> None:
    document = json.loads(saved.read_text())
    document["formatVersion"] = version
    saved.write_text(json.dumps(document, indent=2))
    for command in (("show", str(saved)), ("apply", "--plan", str(saved))):
        refused = dpm(*command)
        assert refused.exit_code == 1  # as for a plan edited after it was saved
        assert refused.out == ""
        assert (
            f"{saved} is a plan of format version {version}, made by {made_by} dpm; this dpm reads plan format "
            "version 2 only" in refused.err
        )
        assert "hint: run dpm plan --out FILE again with this dpm" in refused.err
        assert "Traceback" not in refused.err
