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


PROVIDER = """\
kind: Provider
identifier: acme
name: Acme
apiEndpoint: https://api.acme.test/v1
authMethod: api_key
authConfig: {type: api_key, fields: {apiKey: sk-x}, headers: {x-api-key: "{{apiKey}}"}}
capabilities:
  {supportsSystemMessages: true, maxContextLength: 8192, supportedRoles: [user], supportsStreaming: true,
   supportsTools: true}
models:
  - identifier: acme-1
    name: Acme 1
    contextLength: 8192
    capabilities: {supportsSystemMessages: true, maxContextLength: 8192, supportedRoles: [user],
      supportsStreaming: true, supportsTools: true, supportsFunctionCalling: true}
    pricingInfo: {inputTokenPrice: PRICE, outputTokenPrice: 0.01, currency: USD}
"""


def test_unknown_tags_are_validate_errors_and_the_rest_is_still_reported(tmp_path: Path) -> None:
    text = PROVIDER.replace("name: Acme\n", "name: !foo Acme\ndescription: !!python/object:os.system ls\n")
    (tmp_path / "tags.yaml").write_text(text.replace("PRICE", "0.01").replace("8192,", "!!int lots,", 1))
    (tmp_path / "other.yaml").write_text("kind: Provider\nidentifier: x\n")
    code, output, _ = _wait_and_measure(["validate", "."], tmp_path)
    assert code == 1
    assert "tags.yaml:3:7: error: unknown YAML tag !foo; dpm reads only plain YAML values" in output
    assert "tags.yaml:4:14: error: unknown YAML tag !!python/object:os.system" in output
    assert "tags.yaml:9:52: error: 'lots' cannot be read as !!int" in output
    assert "other.yaml:2:13: error: identifier: must be at least 2 character(s) long" in output
    assert "internal error" not in output


def test_non_finite_prices_are_validate_errors_and_never_reach_the_registry(tmp_path: Path) -> None:
    for price in (".inf", ".nan", "-.inf", "1.0e+400"):
        (tmp_path / "acme.yaml").write_text(PROVIDER.replace("PRICE", price))
        code, output, _ = _wait_and_measure(["validate", "acme.yaml"], tmp_path)
        assert code == 1, price
        assert "acme.yaml:16:36: error: models[0].pricingInfo.inputTokenPrice: Input should be a finite" in output
        code, output, _ = _wait_and_measure(["plan", "--registry", "embedded", "acme.yaml"], tmp_path)
        assert code == 1, price
        assert "Input should be a finite number" in output
        assert not (tmp_path / ".dpm" / "registry.db").exists()  # refused before the embedded registry was started
    (tmp_path / "acme.yaml").write_text(PROVIDER.replace("PRICE", "1e400"))  # YAML 1.1 reads this as a string
    code, output, _ = _wait_and_measure(["validate", "acme.yaml"], tmp_path)
    assert code == 1
    assert "acme.yaml:16:36: error: models[0].pricingInfo.inputTokenPrice: must be a number" in output


def test_expressions_that_would_build_a_gigabyte_are_refused_cheaply(tmp_path: Path) -> None:
    expressions = [
        "'{:>1000000000}'.format('a')",
        "'{:.1000000000f}'.format(1.5)",
        "'%1000000000s' % 'a'",
        "'a'.center(1000000000)",
        "('a' * 100000).replace('a', 'a' * 10000)",
        "range(100000) | join('x' * 10000)",
    ]
    lines = [f"d{i}: ${{{{ {source} }}}}" for i, source in enumerate(expressions)]
    (tmp_path / "big.yaml").write_text("kind: Provider\n" + "\n".join(lines) + "\n")
    code, output, peak = _wait_and_measure(["validate", "big.yaml"], tmp_path)
    assert code == 1
    for line in range(2, 2 + len(expressions)):
        assert f"big.yaml:{line}:5: error: d{line - 2}: refused by the sandbox: " in output
    assert output.count("would build a value larger than 100,000 characters") == len(expressions)
    assert peak < MEMORY_LIMIT_MB


def test_odd_inputs_are_each_a_diagnostic_and_all_are_reported(tmp_path: Path) -> None:
    (tmp_path / "scalar.yaml").write_text("just a sentence\n")
    (tmp_path / "ints.yaml").write_text("kind: Provider\nidentifier: ${{ (9 ** 256) ** 256 }}\nname: " + "7" * 5000)
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "prod.yaml").write_text("- not\n- a mapping\n")
    (tmp_path / "dpm.yaml").write_text("vars: {}\n")
    args = ["validate", "--env", "prod", "--var", "x=!!int abc", "--var", "y=" + "1" * 5000, "."]
    code, output, _ = _wait_and_measure(args, tmp_path)
    assert code == 1
    assert "environments/prod.yaml:1:1: error: must be a mapping, got a list" in output
    assert "scalar.yaml:1:1: error: a document must be a mapping with a 'kind' key, not a string" in output
    assert "ints.yaml:2:13: error: identifier: refused by the sandbox: the result would be an integer of more" in output
    assert f"ints.yaml:3:7: error: integer '{'7' * 40}…' has more than 4,300 digits" in output
    assert "internal error" not in output


def test_an_environment_name_that_is_a_path_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "dpm.yaml").write_text("vars: {}\n")
    (tmp_path / "a.yaml").write_text("vars: {}\n")
    code, output, _ = _wait_and_measure(["validate", "--env", "../a", "a.yaml"], tmp_path)
    assert code == 1
    assert output.splitlines() == [
        "dpm: error: --env '../a' is not an environment name",
        "    hint: name a file in environments/, e.g. --env prod",
    ]


def test_a_ten_megabyte_line_is_read_cheaply(tmp_path: Path) -> None:
    (tmp_path / "long.yaml").write_text("kind: Provider\ndescription: " + "x" * 10 * 1024 * 1024 + "\n")
    code, output, peak = _wait_and_measure(["validate", "long.yaml"], tmp_path)
    assert code == 1
    assert "long.yaml:2:14: error: description: " in output
    assert peak < MEMORY_LIMIT_MB
