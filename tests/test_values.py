"""The values every stage passes along: the value walker, secrets that never print, ownership, and diagnostics."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from dpm.values import Diagnostic, Mark, Ownership, Secret, format_path, has_errors, leaves, rebuild

CANARY = "sk-canary-values-3d2c1b"


def is_marker(value: Any) -> bool:
    return isinstance(value, dict) and "$secret" in value


def test_rebuild_replaces_every_leaf_and_copies_the_containers_around_them() -> None:
    value: dict[Any, Any] = {"name": "a", "tags": ["x", {"deep": 1}], 7: None}
    rebuilt = rebuild(value, lambda leaf: f"<{leaf}>")
    assert rebuilt == {"name": "<a>", "tags": ["<x>", {"deep": "<1>"}], 7: "<None>"}
    assert value == {"name": "a", "tags": ["x", {"deep": 1}], 7: None}  # the original is left as it was
    assert rebuilt["tags"] is not value["tags"]


def test_a_container_that_is_leaf_claims_is_replaced_whole() -> None:
    value = {"fields": {"apiKey": {"$secret": "${{ secret.DPM_KEY }}"}, "region": "eu"}}
    rebuilt = rebuild(value, lambda leaf: "KEY" if is_marker(leaf) else leaf, is_leaf=is_marker)
    assert rebuilt == {"fields": {"apiKey": "KEY", "region": "eu"}}


def test_leaves_name_each_leaf_by_its_path_keys_and_indexes_alike() -> None:
    value = {"models": [{"identifier": "m", "caps": {"roles": ["user", "tool"]}}], "marker": {"$secret": "s"}}
    assert list(leaves(value, is_leaf=is_marker)) == [
        (("models", 0, "identifier"), "m"),
        (("models", 0, "caps", "roles", 0), "user"),
        (("models", 0, "caps", "roles", 1), "tool"),
        (("marker",), {"$secret": "s"}),
    ]
    assert list(leaves("scalar", ("root",))) == [(("root",), "scalar")]
    assert list(leaves({})) == []


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("models", 1, "contextLength"), "models[1].contextLength"),
        (("authConfig", "fields", "apiKey"), "authConfig.fields.apiKey"),
        ((0, "identifier"), "[0].identifier"),
        ((), ""),
    ],
)
def test_format_path_writes_paths_as_a_reader_would(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


def test_a_secret_never_prints_its_value_in_any_form() -> None:
    secret = Secret(("DPM_KEY",), CANARY, "${{ secret.DPM_KEY }}")
    shown = [str(secret), repr(secret), f"{secret}", secret.masked(), repr([secret]), str({"apiKey": secret})]
    for text in shown:
        assert CANARY not in text
    # Nothing derived from the value either: an unsalted hash in a CI log would let anyone test guesses.
    assert secret.masked() == "[secret DPM_KEY]"
    assert hashlib.sha256(CANARY.encode()).hexdigest()[:8] not in "".join(shown)
    assert secret.reveal() == CANARY
    assert secret.known


def test_an_unset_secret_is_unknown_and_says_so() -> None:
    secret = Secret(("DPM_A", "DPM_B"), None)
    assert not secret.known
    assert secret.reveal() is None
    assert repr(secret) == "Secret([secret DPM_A, DPM_B: not set])"


def test_secrets_are_equal_when_their_names_and_values_are() -> None:
    first = Secret(("DPM_KEY",), CANARY, "${{ secret.DPM_KEY }}")
    assert first == Secret(("DPM_KEY",), CANARY, "${{ secret.DPM_KEY | trim }}")  # the source is no part of it
    assert first != Secret(("DPM_KEY",), CANARY + "-rotated")
    assert first != Secret(("DPM_OTHER",), CANARY)
    assert first != CANARY
    assert len({first, Secret(("DPM_KEY",), CANARY)}) == 1


def test_ownership_owns_the_providers_its_scope_globs_match() -> None:
    team = Ownership(scope=("team-*", "shared"))
    assert team.owns({"identifier": "team-search"})
    assert team.owns({"identifier": "shared"})
    assert not team.owns({"identifier": "shared-2"})
    assert not team.owns({"identifier": "Team-search"})  # globs match case-sensitively, like identifiers
    assert Ownership().owns({"identifier": "anything"})


def test_a_system_provider_is_never_owned_whatever_the_scope() -> None:
    assert not Ownership().owns({"identifier": "openai", "isSystem": True})
    assert not Ownership(scope=("openai",)).owns({"identifier": "openai", "isSystem": True})


def test_a_diagnostic_records_where_and_what() -> None:
    mark = Mark("providers.d/a.yaml", 3, 5)
    error = Diagnostic.error("range", "too small", mark, ("models", 0, "contextLength"), hint="use at least 1")
    assert error == Diagnostic(
        "error", "range", "too small", "providers.d/a.yaml", 3, 5, "models[0].contextLength", "use at least 1"
    )
    assert error.location == "providers.d/a.yaml:3:5"
    warning = Diagnostic.warning("secret", "not set", None)
    assert (warning.severity, warning.location, warning.path, warning.line) == ("warning", "dpm", "", None)
    assert not has_errors([warning])
    assert has_errors([warning, error])


def test_diagnostics_sort_by_file_then_position_then_message() -> None:
    found = [
        Diagnostic.error("x", "b", Mark("b.yaml", 1, 1)),
        Diagnostic.error("x", "z", Mark("a.yaml", 2, 1)),
        Diagnostic.error("x", "a", None),
        Diagnostic.error("x", "y", Mark("a.yaml", 2, 1)),
        Diagnostic.error("x", "c", Mark("a.yaml", 1, 9)),
    ]
    ordered = sorted(found, key=Diagnostic.sort_key)
    assert [d.message for d in ordered] == ["a", "c", "y", "z", "b"]
