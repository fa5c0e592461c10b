"""The layout on random documents: random keys (the schema's and others), values that need quotes or not, flow
and block style, two or four spaces, and a comment on and between random lines. Whatever the input, the result
keeps every comment and every value, and formatting it again changes nothing; or the file is refused as it is."""

from __future__ import annotations

import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from dpm.config.keyorder import document_shape
from dpm.config.layout import format_text
from dpm.config.yamlio import load_documents

KEYS = ["kind", "identifier", "name", "description", "models", "capabilities", "status", "x-extra", "pricingInfo"]
TRICKY = ["yes", "no", "on", "n", "0123", "0x1F", "1e3", "1.5", "null", "~", "", " lead", "trail ", "{{apiKey}}",
          "${{ vars.context }}", "${{ secret.DPM_KEY }}", "a: b", "a #b", "#no", "- x", "[x]", "{x}", "@x", "`x",
          "it's", 'say "hi"', "été", "2023-06-01", "12:30:00", "*star", "&amp", "!bang", "%pct", "|pipe", ">gt",
          "tab\there", "back\\slash"]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs", "Cc", "Co", "Cn")), max_size=12),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
keys = st.one_of(st.sampled_from(KEYS), st.text("abcXY-_", min_size=1, max_size=6))
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)
documents = st.dictionaries(keys, values, min_size=1, max_size=8)


def _written(data: dict[str, Any], flow: bool | None, indent: int) -> str:
    text: str = yaml.safe_dump(
        data, default_flow_style=flow, indent=indent, width=10**6, allow_unicode=True, sort_keys=False
    )
    return text


def _commented(text: str, draw: st.DrawFn) -> tuple[str, list[str]]:
    """``text`` with a comment line above some lines and a comment at the end of others."""
    out, tags = [], []
    for number, line in enumerate(text.splitlines()):
        if draw(st.booleans()):
            tags.append(f"c{number}")
            out.append(" " * (len(line) - len(line.lstrip())) + f"# c{number}")
        ending = ""
        if draw(st.booleans()):
            tags.append(f"e{number}")
            ending = f"  # e{number}"
        out.append(line + ending)
    return "\n".join(out) + "\n", tags


@st.composite
def files(draw: st.DrawFn) -> tuple[str, list[str]]:
    count = draw(st.integers(1, 3))
    parts, tags = [], []
    for _ in range(count):
        text = _written(draw(documents), draw(st.sampled_from([None, False, True])), draw(st.sampled_from([2, 4])))
        commented, found = _commented(text, draw)
        parts.append(commented)
        tags += found
    return "---\n".join(parts), tags


def _read(text: str) -> list[Any]:
    """The documents as dpm reads them."""
    documents, problems = load_documents("random.yaml", text)
    assert problems == []
    return [document.data for document in documents]


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_random_files_keep_their_values_and_comments_and_format_once(case: tuple[str, list[str]]) -> None:
    text, tags = case
    note(text)
    formatted = format_text("random.yaml", text.encode(), document_shape)
    if formatted.text is None:
        # What ruamel.yaml cannot carry (a comment line right after a flow collection in a sequence, say) is
        # refused, and the file left as it is: never written wrong.
        (problem,) = formatted.problems
        assert problem.code == "fmt-unsafe"
        return
    assert sorted(re.findall(r"# ([ce]\d+)\b", formatted.text)) == sorted(tags)
    assert _read(formatted.text) == _read(text)
    note(formatted.text)
    again = format_text("random.yaml", formatted.text.encode(), document_shape)
    assert again.text == formatted.text
