"""YAML reading: positions, duplicate keys, merge keys, and refusal of hostile documents."""

from __future__ import annotations

import pytest

from dpm.config.yamlio import MAX_DEPTH, comments, dump_yaml, load_documents, read_text
from dpm.values import Mark


def test_values_and_keys_remember_their_positions() -> None:
    documents, problems = load_documents("f.yaml", "kind: Provider\nmodels:\n  - identifier: a\n    name: A\n")
    assert problems == []
    (document,) = documents
    assert document.data == {"kind": "Provider", "models": [{"identifier": "a", "name": "A"}]}
    assert document.mark(("models", 0, "name")) == Mark("f.yaml", 4, 11)
    assert document.mark(("models", 0, "name"), key=True) == Mark("f.yaml", 4, 5)
    assert document.mark(("models", 0, "missing", "deeper")) == Mark("f.yaml", 3, 5)


def test_several_documents_and_empty_ones() -> None:
    documents, problems = load_documents("f.yaml", "---\na: 1\n---\n---\nb: 2\n---\n")
    assert problems == []
    assert [d.data for d in documents] == [{"a": 1}, {"b": 2}]
    assert [d.mark(()).line for d in documents] == [2, 5]


def test_duplicate_key_is_reported_at_the_second_occurrence() -> None:
    _, problems = load_documents("f.yaml", "name: a\nother: 1\nname: b\n")
    (problem,) = problems
    assert (problem.code, problem.line, problem.column) == ("duplicate-key", 3, 1)
    assert "first defined at line 1" in problem.message


def test_merge_keys_may_be_overridden_but_not_written_twice() -> None:
    text = "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\n"
    (document,), problems = load_documents("f.yaml", text)
    assert problems == []
    assert document.data["child"] == {"x": 1, "y": 3}


def test_non_string_keys_are_refused() -> None:
    _, problems = load_documents("f.yaml", "1: one\n")
    assert problems[0].code == "yaml-key"


def test_syntax_error_points_at_the_problem() -> None:
    _, problems = load_documents("f.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    (problem,) = problems
    assert problem.code == "yaml-syntax"
    assert problem.line == 3


def test_alias_bomb_is_refused_before_it_is_built() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    _, problems = load_documents("bomb.yaml", "\n".join(lines) + "\n")
    (problem,) = problems
    assert problem.code == "yaml-alias"
    assert "alias bomb" in problem.message


def test_recursive_alias_is_refused() -> None:
    _, problems = load_documents("f.yaml", "a: &a [*a]\n")
    assert problems[0].code == "yaml-alias"


def test_reasonable_anchor_reuse_is_fine() -> None:
    text = "caps: &caps {a: 1, b: 2}\nmodels:\n" + "".join(f"  - {{name: m{i}, caps: *caps}}\n" for i in range(50))
    _, problems = load_documents("f.yaml", text)
    assert problems == []


def test_deep_nesting_is_refused() -> None:
    depth = MAX_DEPTH + 10
    _, problems = load_documents("f.yaml", "a: " + "[" * depth + "]" * depth + "\n")
    assert problems[0].code == "yaml-depth"


def test_oversized_file_is_refused_without_decoding() -> None:
    text, problems = read_text("big.yaml", b"a: 1\n" * (5 * 1024 * 1024))
    assert text is None
    assert problems[0].code == "file-too-large"
    assert "25.0 MiB" in problems[0].message


def test_non_utf8_points_at_the_byte() -> None:
    text, problems = read_text("f.yaml", b"a: 1\nname: Caf\xe9\n")
    assert text is None
    assert (problems[0].line, problems[0].column) == (2, 10)


def test_byte_order_mark_is_accepted() -> None:
    text, problems = read_text("f.yaml", b"\xef\xbb\xbfa: 1\n")
    assert (text, problems) == ("a: 1\n", [])


@pytest.mark.parametrize("data", [{"b": 1, "a": [1, "x"]}, {"s": "{{apiKey}}"}])
def test_dump_round_trips_and_keeps_key_order(data: dict[str, object]) -> None:
    text = dump_yaml(data)
    (document,), _ = load_documents("f.yaml", text)
    assert document.data == data
    assert list(document.data) == list(data)


@pytest.mark.parametrize(
    ("text", "tag", "column"),
    [
        ("name: !foo bar\n", "!foo", 7),
        ("name: !!python/object:os.system ls\n", "!!python/object:os.system", 7),
        ("name: !!python/object/apply:os.system [ls]\n", "!!python/object/apply:os.system", 7),
        ("name: !map {a: 1}\n", "!map", 7),
        ("name: !seq [1]\n", "!seq", 7),
        ("!key name: x\n", "!key", 1),
    ],
)
def test_unknown_tags_are_reported_where_they_are_written(text: str, tag: str, column: int) -> None:
    (document,), problems = load_documents("f.yaml", "kind: Provider\n" + text + "other: !!int 1\n")
    (problem,) = problems
    assert (problem.code, problem.line, problem.column) == ("yaml-tag", 2, column)
    assert problem.message == f"unknown YAML tag {tag}; dpm reads only plain YAML values"
    assert document.data["other"] == 1  # the rest of the document is still read


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!int abc\n", "'abc' cannot be read as !!int"),
        ("a: !!float nope\n", "'nope' cannot be read as !!float"),
        ("a: !!timestamp 2020-99-99\n", "'2020-99-99' cannot be read as !!timestamp"),
    ],
)
def test_a_value_its_tag_cannot_read_is_reported(text: str, message: str) -> None:
    _, problems = load_documents("f.yaml", text)
    (problem,) = problems
    assert (problem.code, problem.message, problem.line, problem.column) == ("yaml-tag", message, 1, 4)


def test_a_tag_reached_again_through_an_alias_is_reported_once() -> None:
    _, problems = load_documents("f.yaml", "a: &x !foo bar\nb: *x\nc: *x\n")
    assert [(problem.code, problem.line) for problem in problems] == [("yaml-tag", 1)]


def test_an_integer_too_long_to_read_is_reported_shortened() -> None:
    (document,), problems = load_documents("f.yaml", "a: " + "1" * 5000 + "\nb: 2\n")
    (problem,) = problems
    assert problem.message == f"integer '{'1' * 40}…' has more than 4,300 digits, more than dpm reads"
    assert (problem.line, problem.column, problem.suggestion) == (1, 4, "quote it if it is meant as text")
    assert document.data["b"] == 2


def test_comments_are_found_outside_values_only() -> None:
    text = 'a: &x   # one\n  b: "x # no"  # two # still two\nd: |\n  # no\n# three\nurl: http://x#no\n# four'
    assert comments(text) == ["# one", "# two # still two", "# three", "# four"]
