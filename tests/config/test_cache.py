"""The compile cache: the same result warm as cold, never a secret on disk, and nothing but a miss from an entry
that cannot be trusted."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dpm.config import cache
from dpm.pipeline import CompiledConfig, compile_config
from dpm.values import Secret
from tests.conftest import RunDpm

GOLDEN = Path(__file__).parents[1] / "golden"
CASES = sorted(p for p in GOLDEN.iterdir() if p.is_dir())
CANARY = "sk-canary-compile-cache-0123456789"

PROVIDER = """\
kind: Provider
identifier: {identifier}
name: Acme
description: ${{{{ vars.team }}}} in ${{{{ env.DPM_REGION }}}}
apiEndpoint: https://api.acme.example/v1
authMethod: api_key
authConfig:
  type: api_key
  fields:
    apiKey: ${{{{ secret.DPM_ACME_KEY }}}}
  headers:
    Authorization: Bearer {{{{apiKey}}}}
capabilities:
  supportsSystemMessages: true
  maxContextLength: 8192
  supportedRoles: [user]
  supportsStreaming: true
  supportsTools: true
models:
  - identifier: m1
    name: M1
    contextLength: 4096
    capabilities:
      supportsSystemMessages: true
      maxContextLength: 4096
      supportedRoles: [user]
      supportsStreaming: true
      supportsTools: true
      supportsFunctionCalling: true
"""


def repo(tmp_path: Path, *identifiers: str) -> Path:
    (tmp_path / "dpm.yaml").write_text("vars:\n  team: platform\n")
    config = tmp_path / "providers.d"
    config.mkdir()
    for identifier in identifiers or ("acme",):
        (config / f"{identifier}.yaml").write_text(PROVIDER.format(identifier=identifier))
    return config


def compiled(config: Path, environ: dict[str, str], **options: object) -> CompiledConfig:
    return compile_config([str(config)], environ=environ, cache=True, **options)  # type: ignore[arg-type]


def entries(root: Path) -> str:
    return "".join(p.read_text() for p in (root / ".dpm" / "cache").glob("compile-*.jsonl"))


def test_a_warm_compile_gives_the_cold_result_and_reads_secrets_from_its_own_environment(tmp_path: Path) -> None:
    config = repo(tmp_path, "acme", "beta")
    environ = {"DPM_ACME_KEY": CANARY, "DPM_REGION": "eu"}
    cold = compiled(config, environ)
    assert "acme.yaml" in entries(tmp_path)
    warm = compiled(config, environ)
    assert warm.state.to_data() == cold.state.to_data()
    assert warm.state.origins == cold.state.origins
    assert warm.state.model_origins == cold.state.model_origins
    assert warm.diagnostics == cold.diagnostics == []
    secret = warm.state.providers["acme"]["authConfig"]["fields"]["apiKey"]
    assert isinstance(secret, Secret)
    assert secret.reveal() == CANARY
    # Another value of the secret, or none: the entry holds only the expression, evaluated again.
    rotated = compiled(config, {**environ, "DPM_ACME_KEY": "sk-rotated-value-987654321"})
    assert rotated.state.providers["acme"]["authConfig"]["fields"]["apiKey"].reveal() == "sk-rotated-value-987654321"
    unset = compiled(config, {"DPM_REGION": "eu"})
    assert [d.code for d in unset.diagnostics] == ["secret-missing", "secret-missing"]


def test_no_secret_value_reaches_the_cache(tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    config = repo(tmp_path)
    # A secret read through env (it is a secret everywhere once any file reads it as one) and a template's secret.
    (config / "env-side.yaml").write_text(
        PROVIDER.format(identifier="side").replace("secret.DPM_ACME_KEY", "env.DPM_ACME_KEY")
    )
    (config / "templated.yaml").write_text(
        "kind: Provider\nidentifier: tmpl\nname: T\nfromTemplate: openai-template\n"
        "customizations:\n  apiKey: ${{ secret.DPM_ACME_KEY }}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DPM_ACME_KEY", CANARY)
    monkeypatch.setenv("DPM_REGION", "eu")
    for command in ("validate", "render", "validate"):
        result = dpm(command, "providers.d")
        assert result.exit_code == 0, result.out + result.err
    written = b"".join(p.read_bytes() for p in (tmp_path / ".dpm").rglob("*") if p.is_file())
    assert CANARY.encode() not in written
    assert b"secret.DPM_ACME_KEY" in written  # what is kept instead: the expression


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_diagnostics_are_the_same_warm_and_cold(
    case: Path, tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every golden validation case, in every format, is printed identically without the cache, by the run that
    fills it, and by the run that reads it."""
    work = tmp_path / case.name
    shutil.copytree(case, work, ignore=shutil.ignore_patterns(".dpm"))
    monkeypatch.chdir(work)
    args = (work / "args").read_text().split() if (work / "args").exists() else []
    for output in ("text", "json"):
        shutil.rmtree(work / ".dpm", ignore_errors=True)
        uncached = dpm("validate", "providers.d", "--format", output, "--no-cache", *args)
        assert not (work / ".dpm").exists()
        runs = [dpm("validate", "providers.d", "--format", output, *args) for _ in range(2)]
        for run in runs:
            assert (run.exit_code, run.out, run.err) == (uncached.exit_code, uncached.out, uncached.err)
    assert (work / ".dpm" / "cache").is_dir()


def test_what_a_file_depends_on_invalidates_its_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = repo(tmp_path)
    environ = {"DPM_ACME_KEY": CANARY, "DPM_REGION": "eu"}

    def description(**options: object) -> str:
        state = compiled(config, environ, **options).state
        return str(state.providers["acme"]["description"])

    assert description() == "platform in eu"
    environ["DPM_REGION"] = "us"  # an env value the file reads
    assert description() == "platform in us"
    assert description(variables=["team=payments"]) == "payments in us"  # the vars
    (config / "acme.yaml").write_text(PROVIDER.format(identifier="acme").replace(" in ", " at "))  # the bytes
    assert description() == "platform at us"
    monkeypatch.setattr(cache, "__version__", "0.0.0-other")  # dpm's version
    before = entries(tmp_path)
    assert description() == "platform at us"
    assert entries(tmp_path) != before  # written again for the other version


def test_an_environment_keeps_entries_of_its_own(tmp_path: Path) -> None:
    config = repo(tmp_path)
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "prod.yaml").write_text("vars:\n  team: production\n")
    environ = {"DPM_ACME_KEY": CANARY, "DPM_REGION": "eu"}
    for _ in range(2):
        assert compiled(config, environ).state.providers["acme"]["description"] == "platform in eu"
        prod = compiled(config, environ, environment="prod").state
        assert prod.providers["acme"]["description"] == "production in eu"
    assert len(list((tmp_path / ".dpm" / "cache").glob("compile-*.jsonl"))) == 2


def test_a_corrupt_or_foreign_entry_is_compiled_again(tmp_path: Path) -> None:
    config = repo(tmp_path, "acme", "beta")
    environ = {"DPM_ACME_KEY": CANARY, "DPM_REGION": "eu"}
    expected = compiled(config, environ).state.to_data()
    [pack] = (tmp_path / ".dpm" / "cache").glob("compile-*.jsonl")
    text = pack.read_text()
    for damaged in (text[: len(text) // 2], text.replace('"checked":[', '"checked":[1,'), "\0garbage\n" * 3, ""):
        pack.write_text(damaged)
        pack.chmod(0o600)
        assert compiled(config, environ).state.to_data() == expected
        assert pack.read_text() == text  # written whole again
    # An entry that is not a private file of this user (as a checkout writes it) is not read, even when valid.
    pack.write_text(text.replace("platform in", "someone else's"))
    pack.chmod(0o644)
    assert compiled(config, environ).state.to_data() == expected
    assert stat.S_IMODE(pack.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ".dpm" / "cache").stat().st_mode) == 0o700
    assert (tmp_path / ".dpm" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_where_the_cache_cannot_be_made_dpm_runs_uncached(tmp_path: Path, dpm: RunDpm) -> None:
    config = repo(tmp_path)
    (tmp_path / ".dpm").write_text("not a directory\n")
    environ = {"DPM_ACME_KEY": CANARY, "DPM_REGION": "eu"}
    assert compiled(config, environ).valid
    assert (tmp_path / ".dpm").read_text() == "not a directory\n"
    (tmp_path / ".dpm").unlink()
    (tmp_path / ".dpm").mkdir()
    (tmp_path / ".dpm" / "cache").mkdir(mode=0o755)  # not dpm's own private directory: left alone
    (tmp_path / ".dpm" / "cache").chmod(0o755)
    assert compiled(config, environ).valid
    assert list((tmp_path / ".dpm" / "cache").iterdir()) == []
    # A symbolic link, as a checkout may hold one, is not followed: the private directory it names stays empty.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    shutil.rmtree(tmp_path / ".dpm")
    (tmp_path / ".dpm").symlink_to(elsewhere)
    assert compiled(config, environ).valid
    assert list(elsewhere.iterdir()) == []
    (tmp_path / ".dpm").unlink()
    (tmp_path / ".dpm").mkdir()
    (elsewhere / "cache").mkdir(mode=0o700)
    (tmp_path / ".dpm" / "cache").symlink_to(elsewhere / "cache")
    assert compiled(config, environ).valid
    assert list(elsewhere.rglob("*.jsonl")) == []


def test_positions_dropped_after_a_file_are_found_again_for_later_problems(tmp_path: Path) -> None:
    """A problem that compiling or a policy finds, after the file's positions were dropped, still points at its
    line, cold and warm."""
    config = repo(tmp_path, "acme")
    (config / "b-copy.yaml").write_text("# a copy\n" + PROVIDER.format(identifier="acme"))
    environ = {"DPM_ACME_KEY": CANARY, "DPM_REGION": "eu"}
    for _ in range(2):
        problems = compiled(config, environ).diagnostics
        assert [(d.code, d.file, d.line, d.column) for d in problems] == [
            ("duplicate", str(config / "b-copy.yaml"), 3, 13)
        ]


def test_concurrent_runs_share_the_cache(tmp_path: Path) -> None:
    config = repo(tmp_path, *(f"p{index:02d}" for index in range(12)))
    env = {**os.environ, "DPM_ACME_KEY": CANARY, "DPM_REGION": "eu"}
    dpm = str(Path(sys.executable).parent / "dpm")

    def validate(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [dpm, "validate", str(config)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(validate, range(8)))
    assert [r.returncode for r in runs] == [0] * 8, [r.stderr for r in runs]
    assert len({r.stdout for r in runs}) == 1
    assert not list((tmp_path / ".dpm" / "cache").glob(".tmp-*"))  # every write replaced the file or was undone
    assert compiled(config, {"DPM_ACME_KEY": CANARY, "DPM_REGION": "eu"}).valid
