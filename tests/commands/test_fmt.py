"""``dpm fmt``: the real command on real files. Formatting never changes what a config means (the compiled desired
state and the diagnostics are the same before and after, on every golden case and the example config), formatting
twice is formatting once, and every comment survives."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dpm.config.layout import _changed_meaning
from dpm.pipeline import compile_config
from tests.conftest import REPO, RunDpm

GOLDEN_CASES = sorted(
    case
    for folder in ("golden", "golden_engine")
    for case in (REPO / "tests" / folder).iterdir()
    if (case / "providers.d").is_dir()
)
EXAMPLE = {"providers.d", "dpm.yaml", "environments", "policies"}
DPM = str(Path(sys.executable).with_name("dpm"))

# Every comment is tagged cN, so that each one can be looked for afterwards, wherever the layout put it.
EDGE_CASES = """\
# yaml-language-server: $schema=../schemas/document.schema.json
# c1 before the first document
---
# c2 at the top of the first document
name: Edge   # c3 after a value, before its key is moved
kind: Provider  # c4
identifier: edge
# c5 between keys
description: 'Quoted for no reason: ${{ vars.environment }}'
apiEndpoint: https://edge.example.com/v1
authMethod: api_key
authConfig:
  type: api_key
  fields:
    apiKey: ${{ secret.DPM_EDGE_KEY }}   # c6 a secret expression
    region: "yes"
    account: '0123'
  headers:
    x-api-key: '{{apiKey}}'
    x-version: "2023-06-01"
capabilities: &caps   # c7 an anchor
    supportsSystemMessages: true
    maxContextLength: ${{ vars.context }}
    supportedRoles: [user, assistant]  # c8 a flow sequence
    supportsStreaming: yes
    supportsTools: true
models:
  # c9 inside the sequence, before its first item
  - capabilities:
      <<: *caps   # c10 a merge key
      supportsFunctionCalling: true
      maxContextLength: 0x1000
    identifier: edge-large
    name: Edge Large
    description: |
      A literal block: kept line by line.
        Indented more, # not a comment
    contextLength: 4096
    pricingInfo: {inputTokenPrice: 0.003, outputTokenPrice: 1.5e-05, currency: USD}  # c11
  # c12 between items
  - identifier: edge-small
    name: Edge Small
    description: >
      A folded block
      over two lines.
    status: deprecated
    contextLength: 2048
    isDefault: true
    capabilities: {supportsSystemMessages: true, maxContextLength: 2048, supportedRoles: [user, assistant],
                   supportsStreaming: true, supportsTools: false, supportsFunctionCalling: false}
# c13 at the end of the first document
---
# c14 a document of comments alone
---
# c15 before a template
kind: ProviderTemplate
defaultModels: []
name: edge-template
providerConfig:
  status: testing  # c16
  description: "A template"
"""


def _tags(text: str) -> list[str]:
    return re.findall(r"# (c\d+)\b", text)


def _meaning(root: Path, args: list[str]) -> tuple[Any, list[tuple[str, str, str, str]]]:
    """What a config means: its compiled desired state (secrets masked) and its diagnostics, less their positions."""
    environment = args[args.index("--env") + 1] if "--env" in args else None
    variables = [args[i + 1] for i, arg in enumerate(args) if arg == "--var"]
    compiled = compile_config(
        [str(root / "providers.d")],
        environment=environment,
        variables=variables,
        require_secrets="--require-secrets" in args,
        environ={},
    )
    # Sorted: moving keys to their canonical order moves the positions the diagnostics are sorted by.
    problems = sorted((d.severity, d.code, d.path, d.message) for d in compiled.diagnostics)
    return compiled.state.to_data(), problems


def _texts(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.y*ml"))}


def _copy(case: Path, into: Path) -> tuple[Path, list[str]]:
    """The config of ``case`` copied to ``into`` and the paths to format there (its providers.d, dpm.yaml and
    environments/ where it has them)."""
    for name in EXAMPLE:
        source = case / name
        if source.is_dir():
            shutil.copytree(source, into / name)
        elif source.is_file():
            shutil.copy(source, into / name)
    return into, sorted(name for name in EXAMPLE if (into / name).exists())


@pytest.mark.parametrize(
    "case", [*GOLDEN_CASES, REPO], ids=[f"{c.parent.name}/{c.name}" for c in GOLDEN_CASES] + ["example"]
)
def test_formatting_keeps_the_meaning_and_is_idempotent(
    case: Path, tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, targets = _copy(case, tmp_path)
    monkeypatch.chdir(root)
    args = (case / "args").read_text().split() if (case / "args").exists() else []
    before = _meaning(root, args)

    first = dpm("fmt", *targets)
    formatted = _texts(root)
    second = dpm("fmt", *targets)

    assert _meaning(root, args) == before
    assert _texts(root) == formatted
    assert "reformatted" not in second.out.replace("0 file(s) reformatted", "")
    assert first.exit_code == second.exit_code == (1 if first.err else 0)
    assert "Traceback" not in first.err


def test_the_example_config_is_formatted(dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = dpm("fmt", "--check", "providers.d", "dpm.yaml", "environments")
    assert result.exit_code == 0, result.out
    assert result.out == "0 file(s) would be reformatted, 8 already formatted\n"


def test_every_comment_and_every_edge_survives(tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "providers.d").mkdir()
    (tmp_path / "dpm.yaml").write_text("vars:\n  environment: dev\n  context: 8192\n")
    edge = tmp_path / "providers.d" / "edge.yaml"
    edge.write_text(EDGE_CASES)
    monkeypatch.chdir(tmp_path)
    before = _meaning(tmp_path, [])
    assert not [p for p in before[1] if p[0] == "error"]

    result = dpm("fmt")
    text = edge.read_text()

    assert result.exit_code == 0
    assert result.out == "reformatted providers.d/edge.yaml\n1 file(s) reformatted, 0 already formatted\n"
    assert sorted(_tags(text)) == sorted(_tags(EDGE_CASES)) == sorted(f"c{n}" for n in range(1, 17))
    assert _meaning(tmp_path, []) == before
    assert dpm("fmt", "--check").exit_code == 0
    # The modeline, the leading ---, the documents and their comments stay where they were.
    assert text.startswith("# yaml-language-server: $schema=../schemas/document.schema.json\n# c1")
    assert "\n---\n# c14 a document of comments alone\n---\n# c15 before a template\nkind: ProviderTemplate\n" in text
    # Keys in canonical order, the flags of a model after contextLength; a merge key's mapping as written.
    assert "kind: Provider  # c4\nidentifier: edge\nname: Edge   # c3 after a value, before its key is moved\n" in text
    assert "# c5 between keys\ndescription: " in text  # a comment line stays above the key it was written above
    assert "    contextLength: 2048\n    isDefault: true\n    status: deprecated\n    capabilities:\n" in text
    # (ruamel.yaml writes the merge line's own comment on the line below it: kept, one line lower.)
    assert re.search(r"\n      <<: \*caps\n +# c10 a merge key\n      supportsFunctionCalling: true\n", text)
    assert "capabilities: &caps   # c7 an anchor\n  supportsSystemMessages: true\n" in text
    # Quotes only where plain YAML would read something else, and then double quotes.
    for line in (
        "description: 'Quoted for no reason: ${{ vars.environment }}'",  # ': ' needs quotes
        'region: "yes"',
        'account: "0123"',
        'x-api-key: "{{apiKey}}"',
        'x-version: "2023-06-01"',
        "apiKey: ${{ secret.DPM_EDGE_KEY }}",
        "maxContextLength: ${{ vars.context }}",
        "description: A template",
    ):
        assert line.replace("'", '"') in text
    # Block scalars as written; a short flow mapping stays, a long one becomes a block; integers in decimal.
    assert "|\n      A literal block: kept line by line.\n        Indented more, # not a comment\n" in text
    assert ">\n      A folded block\n      over two lines.\n" in text
    assert "pricingInfo: {inputTokenPrice: 0.003, outputTokenPrice: 1.5e-05, currency: USD}  # c11" in text
    assert "      supportsTools: false\n      supportsFunctionCalling: false\n" in text
    assert "maxContextLength: 4096\n" in text
    assert max(len(line) for line in text.splitlines()) <= 120


def test_check_lists_what_would_change_and_writes_nothing(
    tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "providers.d").mkdir()
    messy = tmp_path / "providers.d" / "messy.yaml"
    messy.write_text("name: Messy\nkind: Provider\n")
    tidy = tmp_path / "providers.d" / "tidy.yaml"
    tidy.write_text("kind: Provider\nname: Tidy\n")

    result = dpm("fmt", "--check")

    assert result.exit_code == 1
    assert result.out == "would reformat providers.d/messy.yaml\n1 file(s) would be reformatted, 1 already formatted\n"
    assert messy.read_text() == "name: Messy\nkind: Provider\n"
    assert dpm("fmt", "--check", str(tidy)).exit_code == 0


def test_diff_prints_a_unified_diff_and_writes_nothing(
    tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    messy = tmp_path / "messy.yaml"
    messy.write_text("name: Messy  # the name\nkind: 'Provider'\n")

    result = dpm("fmt", "--diff", "messy.yaml")

    assert result.exit_code == 0
    assert result.out == (
        "--- a/messy.yaml\n+++ b/messy.yaml\n@@ -1,2 +1,2 @@\n"
        "+kind: Provider\n name: Messy  # the name\n-kind: 'Provider'\n"
    )
    assert result.err == "would reformat messy.yaml\n1 file(s) would be reformatted, 0 already formatted\n"
    assert messy.read_text() == "name: Messy  # the name\nkind: 'Provider'\n"
    assert dpm("fmt", "--diff", "--check", "messy.yaml").exit_code == 1


def test_a_file_that_does_not_parse_is_reported_and_the_others_are_formatted(
    tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "providers.d").mkdir()
    (tmp_path / "providers.d" / "a-broken.yaml").write_text("kind: Provider\nname: [unclosed\n")
    fine = tmp_path / "providers.d" / "b-fine.yaml"
    fine.write_text("name: Fine\nkind: Provider\n")

    result = dpm("fmt", "providers.d")

    assert result.exit_code == 1
    assert result.out == "reformatted providers.d/b-fine.yaml\n1 file(s) reformatted, 0 already formatted\n"
    assert result.err.startswith("providers.d/a-broken.yaml:3:1: error: invalid YAML: ")
    assert "1 file(s) could not be formatted" in result.err
    assert fine.read_text() == "kind: Provider\nname: Fine\n"
    assert (tmp_path / "providers.d" / "a-broken.yaml").read_text() == "kind: Provider\nname: [unclosed\n"


def test_project_and_environment_files_follow_their_own_schemas(
    tmp_path: Path, dpm: RunDpm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "environments").mkdir()
    (tmp_path / "dpm.yaml").write_text("prune: false\n# the variables\nvars: {a: 1}\nregistry: http://x/api\n")
    (tmp_path / "environments" / "prod.yaml").write_text("vars:\n    b: 2\nregistry: http://y/api\n")

    assert dpm("fmt", "dpm.yaml", "environments").exit_code == 0

    assert (
        tmp_path / "dpm.yaml"
    ).read_text() == "registry: http://x/api\n# the variables\nvars: {a: 1}\nprune: false\n"
    assert (tmp_path / "environments" / "prod.yaml").read_text() == "registry: http://y/api\nvars:\n  b: 2\n"


def test_standard_input_is_formatted_to_standard_output(
    dpm: RunDpm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = tmp_path / "in.yaml"
    source.write_text("name: X\nkind: Provider\n")
    with source.open("rb") as stdin:
        monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": stdin})())
        result = dpm("fmt", "-")
    assert (result.exit_code, result.out) == (0, "kind: Provider\nname: X\n")


def test_the_installed_executable_checks_and_formats(tmp_path: Path) -> None:
    (tmp_path / "providers.d").mkdir()
    target = tmp_path / "providers.d" / "p.yaml"
    target.write_text("# keep me\nname: P\nkind: Provider\n")

    check = subprocess.run([DPM, "fmt", "--check"], cwd=tmp_path, capture_output=True, text=True, check=False)
    write = subprocess.run([DPM, "fmt"], cwd=tmp_path, capture_output=True, text=True, check=False)

    assert (check.returncode, check.stdout) == (
        1,
        "would reformat providers.d/p.yaml\n1 file(s) would be reformatted, 0 already formatted\n",
    )
    assert (write.returncode, write.stdout) == (
        0,
        "reformatted providers.d/p.yaml\n1 file(s) reformatted, 0 already formatted\n",
    )
    assert target.read_text() == "# keep me\nkind: Provider\nname: P\n"


@pytest.mark.parametrize(
    ("written", "formatted"),
    [
        ("a: &unused\n    b: 1\n", "a: &unused\n  b: 1\n"),
        ("l:\n  - c: &x  # on the anchor's line\n      b: 1\n  - c: *x\n", None),
        ("a: &x   # on the anchor's line\n  b: 1\nc: *x\n", None),
        ("- a\n-   b\n", None),  # no config document: left as it is
    ],
)
def test_anchors_keep_their_names_and_their_comments(
    written: str, formatted: str | None, tmp_path: Path, dpm: RunDpm
) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(written)
    assert dpm("fmt", str(path)).exit_code == 0
    assert path.read_text() == (formatted or written)


def test_a_result_that_reads_differently_or_loses_a_comment_is_refused() -> None:
    original = "kind: Provider  # the kind\nname: x\n"
    before = [{"kind": "Provider", "name": "x"}]
    assert _changed_meaning("f.yaml", original, "kind: Provider  # the kind\nname: x\n", before) is None
    lost = _changed_meaning("f.yaml", original, "kind: Provider\nname: x\n", before)
    changed = _changed_meaning("f.yaml", original, "kind: Provider  # the kind\nname: 1\n", before)
    assert lost is not None
    assert lost.message == "formatting would lose the comment '# the kind'"
    assert changed is not None
    assert changed.message == "formatting would change what the file means"


@pytest.mark.parametrize(
    ("written", "formatted"),
    [
        (b"kind: Provider\r\nname: x  # c\r\n", b"kind: Provider\nname: x  # c\n"),
        (b"\xef\xbb\xbfkind: Provider\nname: x", b"kind: Provider\nname: x\n"),
        (b"s: !!str 123\n", b's: "123"\n'),
        (b"s: 'it''s'\n", b"s: it's\n"),
        (b"s: '#not a comment'\n", b's: "#not a comment"\n'),
        (b's: "\\u00e9t\\u00e9"\n', "s: été\n".encode()),
        (b"s: plain text\n  on two lines\n", b"s: plain text on two lines\n"),
        (b"n: ~\nb: off\ni: +5\nf: 1e3\n", b"n: null\nb: false\ni: 5\nf: 1e3\n"),
        (b"y: n\nx: 'y'\n", b"y: n\nx: y\n"),  # y and n are text to dpm's reader, as YAML 1.1 has it in PyYAML
        (b"? complex\n: value\n", b"complex: value\n"),
    ],
)
def test_scalars_are_written_one_way(written: bytes, formatted: bytes, tmp_path: Path, dpm: RunDpm) -> None:
    path = tmp_path / "scalars.yaml"
    path.write_bytes(written)
    assert dpm("fmt", str(path)).exit_code == 0
    assert path.read_bytes() == formatted
