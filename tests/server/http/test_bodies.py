"""The nesting check on raw bytes agrees with the depth of the parsed document, strings and escapes included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpm_server.http.bodies import check, keys_exceed, nesting_exceeds

TRICKY_TEXT = st.text(alphabet='[]{}"\\,:ab \u00e9\u2028', max_size=12)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TRICKY_TEXT, children, max_size=4),
    max_leaves=40,
)


def _depth(document: Any) -> int:
    if isinstance(document, list):
        return 1 + max((_depth(item) for item in document), default=0)
    if isinstance(document, dict):
        return 1 + max((_depth(item) for item in document.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(documents, st.integers(min_value=0, max_value=8), st.booleans())
def test_agrees_with_the_parsed_depth(document: Any, limit: int, ascii_only: bool) -> None:
    body = json.dumps(document, ensure_ascii=ascii_only).encode()

    assert nesting_exceeds(body, limit) == (_depth(document) > limit)


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b'{"a": "[[[[[[[[[["}', False),  # brackets inside a string
        (b'{"a": "\\\\", "b": [[[[]]]]}', True),  # an escaped backslash ends before the closing quote
        (b'{"a": "\\"[[[[[[", "b": 1}', False),  # an escaped quote does not end the string
        (b"[" * 10_000, True),  # never closed
        (b"[[[", False),  # shallow and never closed: the route reports the syntax error
    ],
)
def test_hand_picked_bodies(body: bytes, deep: bool) -> None:
    assert nesting_exceeds(body, 3) == deep


def test_bodies_larger_than_one_chunk_carry_their_depth_across() -> None:
    body = b"[" * 300_000 + b"1" + b"]" * 300_000
    shallow = b"[" + b"[1]," * 200_000 + b"[1]]"

    assert nesting_exceeds(body, 32)
    assert not nesting_exceeds(shallow, 2)
    assert nesting_exceeds(shallow, 1)


def test_the_error_names_the_limit() -> None:
    error = check(b"[" * 40 + b"]" * 40, 32, 1000)

    assert error is not None
    assert (error.status, error.code) == (400, "INVALID_INPUT")
    assert error.details == {"maxDepth": 32}
    assert check(b"[" * 32 + b"]" * 32, 32, 1000) is None


@pytest.mark.parametrize(
    ("document", "too_many"),
    [
        ({f"k{n}": n for n in range(20)}, True),
        ({f"k{n}": n for n in range(16)}, False),
        ({"outer": [{f"k{n}": n for n in range(17)}]}, True),  # nested anywhere
        ([{f"k{n}": n for n in range(16)} for _ in range(50)], False),  # many small objects
        ({"text": ":" * 100}, False),  # colons inside strings are not keys
    ],
)
def test_keys_per_object(document: Any, too_many: bool) -> None:
    assert keys_exceed(json.dumps(document).encode(), 16) == too_many


@settings(max_examples=200, deadline=None)
@given(documents, st.integers(min_value=0, max_value=4))
def test_keys_agree_with_the_parsed_objects(document: Any, limit: int) -> None:
    def widest(value: Any) -> int:
        if isinstance(value, list):
            return max((widest(item) for item in value), default=0)
        if isinstance(value, dict):
            return max([len(value), *(widest(item) for item in value.values())])
        return 0

    assert keys_exceed(json.dumps(document).encode(), limit) == (widest(document) > limit)


def test_a_wide_object_split_across_chunks() -> None:
    body = json.dumps({"a": "x" * 300_000, **{f"k{n}": ":" for n in range(2_000)}}).encode()

    assert keys_exceed(body, 1_000)
    assert not keys_exceed(body, 2_001)
