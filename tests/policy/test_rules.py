"""The rules' fast path: wherever it decides, it decides as jsonschema does, on generated values."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpm.policy import builtin
from dpm.policy.rules import Rule, _predicate

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from([0, 1, 1.0, 0.0, "", "https://a.example", "http://localhost:8080/v1", "{{apiKey}}", "sk-1", "USD"]),
    st.text(max_size=6),
)
KEYS = st.sampled_from(["apiEndpoint", "pricingInfo", "currency", "isDefault", "models", "x-api-key", "Authorization"])
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12
)

RULES: list[dict[str, Any]] = [
    *(policy["rule"] for policy in builtin.pack(builtin.RECOMMENDED)),
    {"properties": {"apiEndpoint": {"pattern": "^https://", "minLength": 3, "maxLength": 20}}},
    {"required": ["pricingInfo"], "properties": {"pricingInfo": {"type": ["object", "null"]}}},
    {"properties": {"isDefault": {"const": True}, "currency": {"enum": ["USD", 1, None, [1], {"a": 1}]}}},
    {"properties": {"pricingInfo": {"minimum": 0, "exclusiveMaximum": 1.5, "type": "integer"}}},
    {"properties": {"models": {"type": "array"}, "currency": False, "isDefault": True}},
    {"patternProperties": {"(?i)^x-": {"type": "string", "pattern": "{{"}}, "type": "object"},
    {"properties": {"models": {"const": [1, True, {"a": None}]}}},
]


@pytest.mark.parametrize("rule", RULES, ids=[str(i) for i in range(len(RULES))])
@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_the_fast_path_agrees_with_jsonschema(rule: dict[str, Any], value: Any) -> None:
    predicate = _predicate(rule)
    expected = jsonschema.Draft202012Validator(rule).is_valid(value)
    if predicate is not None:
        assert predicate(value) == expected
    assert (Rule(rule).violations(value) == []) == expected


def test_rules_with_other_keywords_have_no_fast_path() -> None:
    assert _predicate({"properties": {"models": {"contains": {"const": 1}}}}) is None
    assert _predicate({"$ref": "#/$defs/a", "$defs": {"a": {}}}) is None
    assert _predicate({"properties": {"a": {"pattern": "x"}}, "title": "annotations are fine"}) is not None
