"""dpm completion: the scripts click generates, and completion driven the way a shell drives it, on the real dpm."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import DPM, clean_environment, run_dpm

MARKERS = {
    "bash": "complete -o nosort -F _dpm_completion dpm",
    "zsh": "#compdef dpm",
    "fish": "complete --no-files --command dpm --arguments",
}


@pytest.mark.parametrize("shell", sorted(MARKERS))
def test_each_shell_gets_its_script(tmp_path: Path, shell: str) -> None:
    printed = run_dpm("completion", shell, cwd=tmp_path, env=clean_environment())
    assert printed.exit_code == 0, printed.err
    assert MARKERS[shell] in printed.out
    assert "_DPM_COMPLETE" in printed.out  # the script calls dpm back for each completion


def complete(tmp_path: Path, words: str, cword: int) -> list[str]:
    """What dpm answers a bash completion request: the environment bash's completion function sets."""
    env = clean_environment(COMP_WORDS=words, COMP_CWORD=str(cword), _DPM_COMPLETE="bash_complete")
    done = run_dpm(cwd=tmp_path, env=env)
    assert done.exit_code == 0, done.err
    return done.out.splitlines()


def test_bash_completes_commands_options_and_choices(tmp_path: Path) -> None:
    assert complete(tmp_path, "dpm pl", 1) == ["plain,plan"]
    assert complete(tmp_path, "dpm s", 1) == ["plain,schema", "plain,serve", "plain,show"]
    assert complete(tmp_path, "dpm --color ", 2) == ["plain,auto", "plain,always", "plain,never"]
    assert "plain,--detailed-exitcode" in complete(tmp_path, "dpm plan --", 2)
    assert complete(tmp_path, "dpm completion f", 2) == ["plain,fish"]


def test_the_bash_script_completes_dpm_pl_to_plan_in_a_real_bash(tmp_path: Path) -> None:
    script = run_dpm("completion", "bash", cwd=tmp_path, env=clean_environment()).out
    (tmp_path / "dpm.bash").write_text(script)
    env = clean_environment(PATH=f"{Path(DPM).parent}{os.pathsep}{os.environ['PATH']}")
    bash = shutil.which("bash")
    assert bash is not None
    done = subprocess.run(
        [
            bash,
            "--norc",
            "-c",
            # bash calls the function with the command's name, after setting COMP_WORDS and COMP_CWORD
            "source dpm.bash; complete -p dpm; "
            'COMP_WORDS=(dpm pl); COMP_CWORD=1; _dpm_completion dpm; echo "${COMPREPLY[*]}"',
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    registered, completed = done.stdout.splitlines()
    assert registered == "complete -o nosort -F _dpm_completion dpm"
    assert completed == "plan"


def test_an_unknown_shell_is_a_clear_error(tmp_path: Path) -> None:
    printed = run_dpm("completion", "powershell", cwd=tmp_path, env=clean_environment())
    assert printed.exit_code == 1
    assert "'powershell' is not one of 'bash', 'zsh', 'fish'" in printed.err
