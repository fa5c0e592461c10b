"""The command line as a user meets it: the example config, output formats, and helpful failures."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest

from dpm.commands.options import ConfigArgs
from tests.conftest import REPO, RunDpm, example_secrets

CANARY = "sk-canary-cli-5f1e2d3c4b5a"


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's example config, as a user's config repo."""
    for name in ("providers.d", "environments"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "dpm.yaml", tmp_path / "dpm.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def secrets_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in example_secrets(CANARY).items():
        monkeypatch.setenv(name, value)


def test_example_config_is_valid_and_warns_about_missing_secrets(example: Path, dpm: RunDpm) -> None:
    result = dpm("validate", "providers.d")
    assert result.exit_code == 0
    assert "6 file(s), 6 document(s): valid, 0 error(s), 4 warning(s)" in result.out
    assert "secret DPM_OPENAI_API_KEY is not set" in result.out


@pytest.mark.usefixtures("secrets_set")
def test_example_config_with_secrets_is_clean(example: Path, dpm: RunDpm) -> None:
    result = dpm("validate", "--require-secrets")
    assert result.exit_code == 0
    assert result.out.strip() == "6 file(s), 6 document(s): valid, 0 error(s), 0 warning(s)"


def test_require_secrets_turns_missing_secrets_into_errors(example: Path, dpm: RunDpm) -> None:
    result = dpm("validate", "providers.d", "--require-secrets")
    assert result.exit_code == 1
    assert "invalid, 4 error(s)" in result.out


@pytest.mark.usefixtures("secrets_set")
@pytest.mark.parametrize("output", ["yaml", "json"])
def test_render_masks_every_secret(example: Path, dpm: RunDpm, output: str) -> None:
    result = dpm("render", "providers.d", "--format", output)
    assert result.exit_code == 0
    assert CANARY not in result.out + result.err
    assert "[secret DPM_OPENAI_API_KEY]" in result.out
    assert "[REDACTED]" in result.out  # the literal Ollama key is masked by field name
    # Nothing derived from a secret value: not even a short unsalted hash, which would let CI logs test guesses.
    assert "sha256:" not in result.out
    assert hashlib.sha256(CANARY.encode()).hexdigest()[:8] not in result.out


@pytest.mark.usefixtures("secrets_set")
def test_render_is_deterministic_and_expands_templates(example: Path, dpm: RunDpm) -> None:
    first = dpm("render", "providers.d", "--format", "json").out
    assert first == dpm("render", "providers.d", "--format", "json").out
    state = json.loads(first)
    identifiers = [p["identifier"] for p in state["providers"]]
    assert identifiers == sorted(identifiers)
    mistral = next(p for p in state["providers"] if p["identifier"] == "mistral")
    assert mistral["apiEndpoint"] == "https://api.mistral.ai/v1"
    assert mistral["status"] == "testing"  # a customization from vars.default_status
    assert [m["identifier"] for m in mistral["models"]] == ["mistral-large-latest", "mistral-small-latest"]
    gateway = next(p for p in state["providers"] if p["identifier"] == "search-team-gateway")
    assert gateway["authConfig"]["fields"]["team"] == "search"
    assert gateway["apiEndpoint"] == "https://llm-gateway.dev.example.com/v1"


@pytest.mark.usefixtures("secrets_set")
def test_environment_and_var_override_dpm_yaml(example: Path, dpm: RunDpm) -> None:
    result = dpm("render", "--env", "prod", "--var", "default_status=inactive", "--format", "json")
    state = json.loads(result.out)
    gateway = next(p for p in state["providers"] if p["identifier"] == "search-team-gateway")
    ollama = next(p for p in state["providers"] if p["identifier"] == "ollama-local")
    assert gateway["apiEndpoint"] == "https://llm-gateway.example.com/v1"
    assert ollama["status"] == "inactive"


def test_render_refuses_an_invalid_config(tmp_path: Path, dpm: RunDpm) -> None:
    (tmp_path / "bad.yaml").write_text("kind: Provider\nidentifier: x\n")
    result = dpm("render", str(tmp_path / "bad.yaml"))
    assert result.exit_code == 1
    assert result.out == ""
    assert "missing required key 'name'" in result.err


def test_json_format_follows_its_published_schema(tmp_path: Path, dpm: RunDpm) -> None:
    (tmp_path / "bad.yaml").write_text("kind: Provider\nidentifier: Bad_Id\nname: x\n")
    result = dpm("validate", str(tmp_path), "--format", "json")
    report = json.loads(result.out)
    schema = json.loads((REPO / "schemas" / "diagnostics.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert report["valid"] is False
    assert report["version"] == 1
    identifier = next(d for d in report["diagnostics"] if d["path"] == "identifier")
    assert identifier["file"].endswith("bad.yaml")
    assert (identifier["severity"], identifier["line"], identifier["column"]) == ("error", 2, 13)
    assert identifier["message"] == "Provider identifier must be lowercase alphanumeric with hyphens only"
    assert identifier["suggestion"] == "Use format: my-provider-name"
    assert report["errors"] == len(report["diagnostics"])


def test_github_format_emits_annotations(tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text("kind: Providr\n")
    result = dpm("validate", "p.yaml", "--format", "github")
    first = result.out.splitlines()[0]
    expected = "::error file=p.yaml,line=1,col=7,title=dpm unknown-kind::kind: unknown kind 'Providr'"
    assert first == expected + "%0Ahint: did you mean 'Provider'?"
    assert result.exit_code == 1


def test_stdin(dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO / "providers.d" / "ollama.yaml").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    result = dpm("validate", "-", "--var", "default_status=active")
    assert result.exit_code == 0, result.out
    assert "1 file(s), 1 document(s): valid" in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "no/such/dir"], "no/such/dir: no such file or directory"),
        (["validate", "--env", "prd"], "hint: did you mean 'prod'?"),
        (["validate", "--var", "novalue"], "--var 'novalue' is not name=value"),
        (["validate", "--format", "xml"], "Invalid value for '--format'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_explain_themselves_and_exit_1(example: Path, dpm: RunDpm, args: list[str], message: str) -> None:
    result = dpm(*args)
    assert result.exit_code == 1
    assert message in result.err
    assert "Traceback" not in result.err


def test_directory_without_config_files(tmp_path: Path, dpm: RunDpm) -> None:
    result = dpm("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "holds no *.yaml or *.yml files" in result.out


def test_an_unexpected_failure_is_reported_without_a_traceback(
    example: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ConfigArgs, "compile", explode)
    result = dpm("validate")
    assert result.exit_code == 1
    assert "dpm: internal error: RuntimeError: boom" in result.err
    assert "Traceback" not in result.err


def test_help_and_version(dpm: RunDpm) -> None:
    assert dpm("--version").out.startswith("dpm, version")
    help_text = dpm("--help").out
    for command in ("validate", "render", "schema", "serve"):
        assert command in help_text


def test_a_path_that_cannot_be_written_is_an_error_not_a_crash(tmp_path: Path, dpm: RunDpm) -> None:
    (tmp_path / "a-file").write_text("")
    result = dpm("schema", "--out", str(tmp_path / "a-file" / "schemas"))
    assert result.exit_code == 1
    assert result.err.splitlines() == [
        f"dpm: error: {tmp_path / 'a-file' / 'schemas'}: not a directory",
        "    hint: check that the path exists and that dpm may read and write it",
    ]
