"""Golden cases: each folder under tests/golden is a config and the exact diagnostics ``dpm validate`` prints.

A regression case is a new folder: ``providers.d/`` (and optionally ``dpm.yaml``, ``environments/``), ``args``
with extra command-line arguments, and ``expected.txt``. Run with ``DPM_UPDATE_GOLDEN=1`` to rewrite the expected
files after a deliberate change, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import RunDpm

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p for p in GOLDEN.iterdir() if p.is_dir())
UPDATE = bool(os.environ.get("DPM_UPDATE_GOLDEN"))  # read at import: the tests themselves run without DPM_*


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(case)
    args = (case / "args").read_text().split() if (case / "args").exists() else []
    result = dpm("validate", "providers.d", *args)
    expected_file = case / "expected.txt"
    if UPDATE:
        expected_file.write_text(result.out)
    expected = expected_file.read_text()
    assert result.out == expected
    assert result.err == ""
    assert result.exit_code == (1 if "invalid" in expected.splitlines()[-1] else 0)


RENDERED = [c for c in CASES if (c / "expected.render.yaml").exists()]


@pytest.mark.parametrize("case", RENDERED, ids=[c.name for c in RENDERED])
def test_golden_render(case: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a case has ``expected.render.yaml``, ``dpm render`` prints exactly that, with secrets masked."""
    monkeypatch.chdir(case)
    monkeypatch.setenv("DPM_ACME_KEY", "canary-golden-secret")
    args = (case / "args").read_text().split() if (case / "args").exists() else []
    result = dpm("render", "providers.d", *args)
    expected_file = case / "expected.render.yaml"
    if UPDATE:
        expected_file.write_text(result.out)
    assert result.out == expected_file.read_text()
    assert "canary-golden-secret" not in result.out + result.err
    assert result.exit_code == 0


FORMATTED = [(c, f) for c in CASES for f in ("json", "github", "sarif") if (c / f"expected.{f}").exists()]


@pytest.mark.parametrize(("case", "output"), FORMATTED, ids=[f"{c.name}-{f}" for c, f in FORMATTED])
def test_golden_formats(case: Path, output: str, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a case has ``expected.json``, ``expected.github`` or ``expected.sarif``, ``dpm validate --format``
    prints exactly that: the same findings as the text, in every format."""
    monkeypatch.chdir(case)
    args = (case / "args").read_text().split() if (case / "args").exists() else []
    result = dpm("validate", "providers.d", "--format", output, *args)
    expected_file = case / f"expected.{output}"
    if UPDATE:
        expected_file.write_text(result.out)
    assert result.out == expected_file.read_text()
    assert result.exit_code == (1 if "invalid" in (case / "expected.txt").read_text().splitlines()[-1] else 0)
