"""Policies through the real command: secrets stay masked in findings, and the built-in pack is sound."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpm.policy import builtin
from dpm.policy.model import PolicyDocument
from dpm.policy.rules import rule_problems
from tests.conftest import RunDpm

CANARY = "canary-policy-secret-5f4e3d"

PROVIDER = """\
kind: Provider
identifier: acme
name: Acme
description: ${{ env.DPM_ACME_NOTE }}
apiEndpoint: https://acme.example/v1
authMethod: api_key
authConfig:
  type: api_key
  fields:
    apiKey: ${{ secret.DPM_ACME_KEY }}
  headers:
    Authorization: Bearer {{apiKey}}
capabilities:
  supportsSystemMessages: true
  maxContextLength: 8192
  supportedRoles: [user]
  supportsStreaming: true
  supportsTools: false
"""

# Every keyword that would quote the value it looks at, pointed at the secret and at what holds it.
POLICIES = """\
kind: Policy
name: quote-the-key
description: Tries to quote the key.
target: Provider
rule:
  properties:
    authConfig:
      maxProperties: 1
      properties:
        fields:
          maxProperties: 0
          properties:
            apiKey: {pattern: "^nothing$", maxLength: 1, enum: [a], const: b, type: integer}
---
kind: Policy
name: quote-the-provider
description: Tries to quote the whole provider.
target: Provider
rule: {not: {type: object}}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "providers.d").mkdir()
    (tmp_path / "policies").mkdir()
    (tmp_path / "dpm.yaml").write_text("extends: [dpm:recommended]\n")
    (tmp_path / "providers.d" / "acme.yaml").write_text(PROVIDER)
    (tmp_path / "policies" / "quote.yaml").write_text(POLICIES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DPM_ACME_KEY", CANARY)
    monkeypatch.setenv("DPM_ACME_NOTE", "a note")
    return tmp_path


@pytest.mark.parametrize("output", ["text", "json", "github"])
def test_a_secret_never_appears_in_a_finding(repo: Path, dpm: RunDpm, output: str) -> None:
    result = dpm("validate", "providers.d", "--format", output)
    assert result.exit_code == 1
    assert "quote-the-key" in result.out
    assert "quote-the-provider" in result.out
    assert CANARY not in result.out + result.err


def test_the_built_in_pack_is_made_of_valid_policies() -> None:
    for data in builtin.pack(builtin.RECOMMENDED):
        PolicyDocument.model_validate(data)
        assert rule_problems(data["rule"]) == []


def test_the_recommended_pack_passes_on_the_example_config(dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's own config extends dpm:recommended and adds its policies/: all of them pass."""
    from tests.conftest import REPO  # noqa: PLC0415

    monkeypatch.chdir(REPO)
    result = dpm("validate", "providers.d")
    assert result.exit_code == 0, result.out
    assert "policy" not in result.out
