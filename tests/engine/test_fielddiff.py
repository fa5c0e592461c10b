"""Field differences: one path per changed field, lists shown whole, numbers compared by value."""

from __future__ import annotations

from typing import Any

from dpm.engine.fielddiff import field_changes

BEFORE: dict[str, Any] = {
    "name": "Acme",
    "capabilities": {"maxContextLength": 8192, "supportedRoles": ["user"], "rateLimits": {"requestsPerMinute": 60}},
    "pricingInfo": {"inputTokenPrice": 1, "outputTokenPrice": 2.0},
}


def test_equal_objects_have_no_changes() -> None:
    assert field_changes(BEFORE, dict(BEFORE)) == []


def test_a_nested_change_is_reported_at_its_full_path() -> None:
    after = {**BEFORE, "capabilities": {**BEFORE["capabilities"], "rateLimits": {"requestsPerMinute": 120}}}
    assert field_changes(BEFORE, after) == [(("capabilities", "rateLimits", "requestsPerMinute"), 60, 120)]


def test_a_change_inside_a_list_shows_the_whole_list_before_and_after() -> None:
    after = {**BEFORE, "capabilities": {**BEFORE["capabilities"], "supportedRoles": ["system", "user"]}}
    assert field_changes(BEFORE, after) == [(("capabilities", "supportedRoles"), ["user"], ["system", "user"])]


def test_added_and_removed_fields_have_none_on_the_missing_side() -> None:
    after = {k: v for k, v in BEFORE.items() if k != "pricingInfo"} | {"description": "new"}
    assert field_changes(BEFORE, after) == [
        (("description",), None, "new"),
        (("pricingInfo",), BEFORE["pricingInfo"], None),
    ]


def test_an_int_and_an_equal_float_are_no_change() -> None:
    after = {**BEFORE, "pricingInfo": {"inputTokenPrice": 1.0, "outputTokenPrice": 2}}
    assert field_changes(BEFORE, after) == []


def test_changes_come_sorted_by_path() -> None:
    after = {"name": "Acme Corp", "capabilities": {**BEFORE["capabilities"], "maxContextLength": 4096}}
    after["pricingInfo"] = {"inputTokenPrice": 1, "outputTokenPrice": 3}
    assert [path for path, _, _ in field_changes(BEFORE, after)] == [
        ("capabilities", "maxContextLength"),
        ("name",),
        ("pricingInfo", "outputTokenPrice"),
    ]
