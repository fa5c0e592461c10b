"""The offline commands' own options (their outputs are golden cases in tests/golden)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, RunDpm

CASE = REPO / "tests" / "golden" / "policy-targets"


def test_validate_policies_only_lists_the_policy_findings_and_still_fails_on_other_errors(
    tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(CASE, tmp_path / "case")
    monkeypatch.chdir(tmp_path / "case")
    everything = dpm("validate")
    (tmp_path / "case" / "providers.d" / "broken.yaml").write_text("kind: Provider\nidentifier: Not Valid\n")

    policies = dpm("validate", "--policies-only")

    findings = [line for line in everything.out.splitlines() if ": error: " in line or ": warning: " in line]
    policy_lines = [line for line in findings if "secret DPM_ACME_KEY" not in line]
    assert policy_lines  # the case has policy findings, and other warnings beside them
    shown = [line for line in policies.out.splitlines() if ": error: " in line or ": warning: " in line]
    assert shown == policy_lines
    assert policies.out.splitlines()[-1].startswith("3 file(s), 4 document(s), policies only: ")
    assert policies.exit_code == 1
    assert "the config has" in policies.err
    assert "other error(s) as well; dpm validate lists them" in policies.err
