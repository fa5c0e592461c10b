"""``dpm policy test``: each policy's fixture cases, through the real command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, RunDpm

POLICY = """\
kind: Policy
name: https-only
description: Providers use HTTPS.
target: Provider
rule:
  properties:
    apiEndpoint: {pattern: "^https://"}
"""
CASES = """\
tests:
  - name: http fails
    input: {apiEndpoint: "http://a.example"}
    fails: [apiEndpoint]
  - name: wrongly expected to pass
    input: {apiEndpoint: "http://b.example"}
"""


def write_repo(root: Path, policy: str) -> Path:
    (root / "providers.d").mkdir()
    (root / "policies").mkdir()
    (root / "dpm.yaml").write_text("")
    (root / "policies" / "https.yaml").write_text(policy)
    return root


def test_the_example_policies_pass_their_own_cases(dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = dpm("policy", "test")
    assert result.exit_code == 0, result.out + result.err
    assert "FAIL" not in result.out
    assert result.out.splitlines()[-1] == "21 case(s): 21 passed, 0 failed"


def test_a_case_that_fails_fails_the_run_and_says_where(
    dpm: RunDpm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(write_repo(tmp_path, POLICY + CASES))
    result = dpm("policy", "test")
    assert result.exit_code == 1
    assert result.out.splitlines() == [
        "ok    policies/https.yaml:9:5: https-only: http fails",
        "FAIL  policies/https.yaml:12:5: https-only: wrongly expected to pass: expected the rule to fail at nothing, "
        "it failed at 'apiEndpoint'",
        "2 case(s): 1 passed, 1 failed",
    ]


def test_a_run_in_which_no_case_ran_is_no_pass(dpm: RunDpm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(write_repo(tmp_path, POLICY))
    result = dpm("policy", "test")
    assert result.exit_code == 1
    assert "policies without cases: https-only" in result.out
    assert "no policy has test cases, so nothing was tested" in result.err


def test_a_broken_policy_file_fails_before_any_case(
    dpm: RunDpm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(write_repo(tmp_path, POLICY.replace("target: Provider", "target: Providers") + CASES))
    result = dpm("policy", "test")
    assert result.exit_code == 1
    assert "policies/https.yaml:4:9: error: target: must be one of" in result.err
    assert result.out == ""
