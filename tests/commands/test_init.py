"""dpm init: a new config repository that validates and plans as it stands, and never a file overwritten."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from dpm.schemas import schemas
from tests.conftest import REPO, RunDpm
from tests.e2e.conftest import clean_environment, run_dpm

STARTED = ["dpm.yaml", "providers.d/example.yaml", ".gitignore"] + [f"schemas/{name}" for name in sorted(schemas())]
WORKFLOWS = sorted(p.name for p in (REPO / "examples" / "github" / "workflows").glob("*.yml"))


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".dpm" not in p.parts)


def test_init_validate_then_plan_with_the_real_executable(tmp_path: Path) -> None:
    env = clean_environment(DPM_OPENAI_API_KEY="sk-canary-init-0c1d2e3f")
    started = run_dpm("init", "repo", cwd=tmp_path, env=env)
    assert started.exit_code == 0, started.err
    repo = tmp_path / "repo"
    assert files(repo) == sorted(STARTED)
    assert started.out.count("wrote ") == len(STARTED)
    assert (
        f"{len(STARTED)} file(s) written. Next: edit repo/providers.d/example.yaml, then dpm validate and dpm plan."
        in started.out
    )

    checked = run_dpm("validate", "--require-secrets", cwd=repo, env=env)
    assert checked.exit_code == 0, checked.out
    assert checked.out.strip() == "1 file(s), 1 document(s): valid, 0 error(s), 0 warning(s)"
    planned = run_dpm("plan", "--detailed-exitcode", cwd=repo, env=env)
    assert planned.exit_code == 2, planned.err
    assert planned.out.startswith("dpm plan for embedded registry")
    assert "+ provider openai" in planned.out
    assert "sk-canary-init" not in planned.out + planned.err
    assert "dpm: error" not in planned.err


def test_every_file_is_commented_and_checked_by_its_schema(tmp_path: Path, dpm: RunDpm) -> None:
    assert dpm("init", str(tmp_path)).exit_code == 0
    settings = (tmp_path / "dpm.yaml").read_text()
    example = (tmp_path / "providers.d" / "example.yaml").read_text()
    assert settings.startswith("# yaml-language-server: $schema=schemas/dpm.schema.json\n")
    assert example.startswith("# yaml-language-server: $schema=../schemas/document.schema.json\n")
    lines = settings.splitlines()
    for key in ("registry", "scope", "prune", "maxDeletes"):
        (index,) = [i for i, line in enumerate(lines) if re.match(rf"(# )?{key}: ", line)]
        assert lines[index - 1].startswith("# "), f"{key} has no comment above it"
    assert "# registry: https://registry.example.com/api" in lines  # unset: the embedded registry until one is named
    for text, schema in ((settings, "dpm.schema.json"), (example, "document.schema.json")):
        jsonschema.validate(yaml.safe_load(text), json.loads((tmp_path / "schemas" / schema).read_text()))
        assert all(re.fullmatch(r"( {2})*\S.*|", line) for line in text.splitlines())  # 2-space indents only
    assert (tmp_path / ".gitignore").read_text().splitlines()[-1] == ".dpm/"
    for path in (tmp_path / "schemas").iterdir():  # what dpm schema --out writes, as published in this repository
        assert path.read_text() == (REPO / "schemas" / path.name).read_text()


def test_registry_goes_into_dpm_yaml(tmp_path: Path, dpm: RunDpm) -> None:
    assert dpm("init", str(tmp_path), "--registry", "https://registry.example.com/api").exit_code == 0
    settings = yaml.safe_load((tmp_path / "dpm.yaml").read_text())
    assert settings == {
        "registry": "https://registry.example.com/api",
        "scope": ["*"],
        "prune": False,
        "maxDeletes": 5,
        "rollout": "direct",
    }


def test_existing_files_are_kept_as_they_are_and_listed(tmp_path: Path, dpm: RunDpm) -> None:
    (tmp_path / "dpm.yaml").write_text("prune: true\n")
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    started = dpm("init", str(tmp_path))
    assert started.exit_code == 0
    assert (tmp_path / "dpm.yaml").read_text() == "prune: true\n"
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n"
    assert f"kept  {tmp_path / 'dpm.yaml'} (it exists)\n" in started.out
    assert f"kept  {tmp_path / '.gitignore'} (it exists; add .dpm/ to it)\n" in started.out
    assert f"wrote {tmp_path / 'providers.d' / 'example.yaml'}\n" in started.out

    again = dpm("init", str(tmp_path))
    assert again.exit_code == 0
    assert again.out.count("kept  ") == len(STARTED)
    assert "0 file(s) written." in again.out


def test_workflows_only_when_asked_and_as_published(tmp_path: Path, dpm: RunDpm) -> None:
    assert dpm("init", str(tmp_path / "plain")).exit_code == 0
    assert not (tmp_path / "plain" / ".github").exists()
    started = dpm("init", str(tmp_path / "ci"), "--workflows")
    assert started.exit_code == 0
    written = sorted(p.name for p in (tmp_path / "ci" / ".github" / "workflows").iterdir())
    assert written == WORKFLOWS
    for name in written:
        published = (REPO / "examples" / "github" / "workflows" / name).read_text()
        assert (tmp_path / "ci" / ".github" / "workflows" / name).read_text() == published
    assert "replace your-org/dpm@v0" in started.out


def test_a_file_where_the_directory_should_be_is_a_clear_error(tmp_path: Path, dpm: RunDpm) -> None:
    (tmp_path / "taken").write_text("")
    started = dpm("init", str(tmp_path / "taken"))
    assert started.exit_code == 1
    assert "is a file" in started.err
    assert "Traceback" not in started.err
