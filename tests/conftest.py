"""Shared fixtures: run the real ``dpm`` entry point in-process, with a clean environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dpm import redaction
from dpm.commands.main import main

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SECRET_NAMES = ("DPM_OPENAI_API_KEY", "DPM_ANTHROPIC_API_KEY", "DPM_MISTRAL_API_KEY", "DPM_SEARCH_GATEWAY_KEY")


def example_secrets(canary: str) -> dict[str, str]:
    """Values for the secrets the example config references, each containing ``canary`` so leaks can be found."""
    return {name: f"{canary}-{name.lower()}" for name in EXAMPLE_SECRET_NAMES}


@dataclass
class Run:
    exit_code: int
    out: str
    err: str


RunDpm = Callable[..., Run]


@pytest.fixture(autouse=True)
def _no_dpm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the DPM_* variables they set themselves."""
    for name in list(os.environ):
        if name.startswith("DPM_") or name == "CI":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _no_remembered_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new dpm process does, knowing no secret value yet."""
    monkeypatch.setattr(redaction, "_known", {})
    monkeypatch.setattr(redaction, "_searched", 0)


@pytest.fixture
def dpm(capsys: pytest.CaptureFixture[str]) -> RunDpm:
    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
