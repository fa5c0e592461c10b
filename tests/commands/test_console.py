"""The console: colour conventions on a real terminal (the real ``dpm`` executable under a pseudo-terminal, and
piped), and an apply's progress as plain lines when standard error is not a terminal."""

from __future__ import annotations

import io
import os
import pty
import select
import shutil
import subprocess
from pathlib import Path

import pytest

from dpm.commands.console import apply_progress, decide_color
from dpm.engine.apply import StepProgress
from tests.conftest import REPO, example_secrets
from tests.e2e.conftest import DPM, clean_environment, run_dpm

ESCAPE = "\x1b["


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("mode", "tty", "environ", "expected"),
    [
        ("auto", True, {}, True),
        ("auto", False, {}, False),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),  # the convention: set to any non-empty value
        ("auto", True, {"TERM": "dumb"}, False),
        ("auto", True, {"TERM": "xterm-256color"}, True),
        ("always", False, {"NO_COLOR": "1", "TERM": "dumb"}, True),
        ("never", True, {}, False),
    ],
)
def test_decide_color(mode: str, tty: bool, environ: dict[str, str], expected: bool) -> None:
    stream = Terminal() if tty else io.StringIO()
    assert decide_color(mode, stream, environ) is expected


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example config with a saved plan of it against a new embedded registry (creates: coloured green)."""
    repo = tmp_path_factory.mktemp("color")
    shutil.copytree(REPO / "providers.d", repo / "providers.d")
    shutil.copy(REPO / "dpm.yaml", repo / "dpm.yaml")
    made = run_dpm("plan", "-o", "plan.json", cwd=repo, env=environment())
    assert made.exit_code == 0, made.err
    return repo


def environment(**extra: str) -> dict[str, str]:
    base = clean_environment(**example_secrets("sk-canary-color-77aa"), TERM="xterm-256color")
    base.pop("NO_COLOR", None)
    return base | extra


def on_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the real dpm with a pseudo-terminal as its standard input, output and error; what it wrote there."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([DPM, *args], cwd=cwd, env=env, stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    chunks = []
    try:
        while select.select([controller], [], [], 120)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=120)
    finally:
        os.close(controller)
    return code, b"".join(chunks).decode()


def test_a_terminal_is_coloured_by_default(repo: Path) -> None:
    """The control for the tests below: the same run on a terminal does colour."""
    code, out = on_terminal(["show", "plan.json"], repo, environment())
    assert code == 0, out
    assert "\x1b[32m+ provider openai\x1b[0m" in out


def test_no_color_on_a_real_terminal_prints_no_escape_sequence(repo: Path) -> None:
    for args in (["show", "plan.json"], ["plan"]):
        code, out = on_terminal(args, repo, environment(NO_COLOR="1"))
        assert code == 0, out
        assert "+ provider openai" in out
        assert ESCAPE not in out


def test_term_dumb_turns_colour_off(repo: Path) -> None:
    code, out = on_terminal(["show", "plan.json"], repo, environment(TERM="dumb"))
    assert code == 0, out
    assert "+ provider openai" in out
    assert ESCAPE not in out


def test_color_never_wins_on_a_terminal(repo: Path) -> None:
    code, out = on_terminal(["--color", "never", "show", "plan.json"], repo, environment())
    assert code == 0, out
    assert ESCAPE not in out


def test_piped_output_is_plain_unless_color_always(repo: Path) -> None:
    def piped(*args: str, **extra: str) -> str:
        done = run_dpm(*args, cwd=repo, env=environment(**extra))
        assert done.exit_code == 0, done.err
        return done.out

    assert ESCAPE not in piped("show", "plan.json")
    assert ESCAPE not in piped("plan")
    assert "\x1b[32m+ provider openai\x1b[0m" in piped("--color", "always", "show", "plan.json")
    assert "\x1b[32m+ provider openai\x1b[0m" in piped("--color", "always", "plan", NO_COLOR="1")  # the flag wins


def test_color_is_a_choice(repo: Path) -> None:
    done = run_dpm("--color", "sometimes", "show", "plan.json", cwd=repo, env=environment())
    assert done.exit_code == 1
    assert "'sometimes' is not one of 'auto', 'always', 'never'" in done.err


def test_piped_progress_is_one_plain_line_per_finished_step(capsys: pytest.CaptureFixture[str]) -> None:
    sending = StepProgress("import", 2, 5, "1,200 change(s)", "sending")
    apply_progress(sending)
    apply_progress(StepProgress("import", 2, 5, "1,200 change(s)", "done"))
    apply_progress(StepProgress("delete", 1, 1, "model acme/small", "failed"))
    assert capsys.readouterr().err.splitlines() == [
        "import 2/5: 1,200 change(s): done",
        "delete 1/1: model acme/small: failed",
    ]
    assert str(sending) == "import 2/5: 1,200 change(s): …"
