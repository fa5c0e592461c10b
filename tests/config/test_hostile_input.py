"""Hostile input through the real ``dpm`` executable: refused with a clear message, and cheaply.

Memory is measured as the child's peak RSS. The time bound here is only a guard against a hang; the measured
times are in benchmarks/README.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DPM = Path(sys.executable).with_name("dpm")
MEMORY_LIMIT_MB = 200


# A small wrapper process runs dpm and reports its child's peak RSS: measured from this (large) test process, a
# forked child's peak would include the parent's memory from before exec.
_WRAPPER = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(done.stdout + done.stderr)
sys.stderr.write(f"{done.returncode} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
"""


def _wait_and_measure(args: list[str], cwd: Path) -> tuple[int, str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(DPM), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    code, peak_kib = done.stderr.split()
    return int(code), done.stdout, int(peak_kib) / 1024


def test_alias_bomb_is_rejected_cheaply(tmp_path: Path) -> None:
    lines = ["kind: Provider", "lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    code, output, peak = _wait_and_measure(["validate", "bomb.yaml"], tmp_path)
    assert code == 1
    assert "bomb.yaml:1:1: error: YAML aliases expand this document to" in output
    assert peak < MEMORY_LIMIT_MB


def test_fifty_megabyte_file_is_rejected_cheaply(tmp_path: Path) -> None:
    line = b"description: " + b"x" * 80 + b"\n"
    with (tmp_path / "huge.yaml").open("wb") as file:
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            file.write(line)
    code, output, peak = _wait_and_measure(["validate", "huge.yaml"], tmp_path)
    assert code == 1
    assert "huge.yaml:1:1: error: file is 50.0 MiB; dpm reads config files of at most 20 MiB" in output
    assert peak < MEMORY_LIMIT_MB


def test_binary_garbage_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "garbage.yaml").write_bytes(bytes(range(256)) * 4)
    code, output, _ = _wait_and_measure(["validate", "garbage.yaml"], tmp_path)
    assert code == 1
    assert "garbage.yaml:2:118: error: file is not UTF-8: byte 0x80 cannot be decoded" in output


def test_control_characters_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "nul.yaml").write_bytes(b"kind: Provider\nname: a\x00b\n")
    code, output, _ = _wait_and_measure(["validate", "nul.yaml"], tmp_path)
    assert code == 1
    assert "nul.yaml:2:8: error: character U+0000 is not allowed in YAML" in output
    assert "Traceback" not in output
