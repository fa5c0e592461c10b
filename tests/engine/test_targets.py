"""Targets: parsing, what each target brings along, and both states narrowed so the diff sees nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from dpm.config.compile import DesiredState
from dpm.engine import targets
from dpm.engine.diff import diff, kept
from dpm.engine.live import LiveState, live_from_export
from dpm.errors import UsageError
from dpm.values import Ownership
from tests.engine.test_diff import model, provider


def live_state(
    providers: list[dict[str, Any]], models: list[dict[str, Any]] = (), templates: list[Any] = ()
) -> LiveState:  # type: ignore[assignment]
    return live_from_export({"data": {"providers": providers, "models": list(models), "templates": list(templates)}})


def narrowed_diff(
    chosen: list[str], desired: DesiredState, live: LiveState, owner: Ownership
) -> list[tuple[str, str, str]]:
    selection = targets.select(chosen, desired, live)
    small_desired, small_live = targets.narrow(desired, live, selection)
    changes = [c for c in diff(small_desired, small_live, owner)[0] if selection.keeps(c)]
    return [(c.action, c.kind, c.key) for c in changes]


def test_targets_parse_by_kind_and_each_form_is_checked() -> None:
    assert str(targets.parse("provider/acme")) == "provider/acme"
    assert targets.parse("model/acme/large").identifier == "acme/large"
    assert targets.parse_all(["template/t", "provider/a", "provider/a"]) == [
        targets.Target("provider", "a"),
        targets.Target("template", "t"),
    ]
    with pytest.raises(UsageError) as unknown_kind:
        targets.parse("providers/acme")
    assert "did you mean 'provider'?" in str(unknown_kind.value.hint)
    for malformed in ("model/acme", "provider/", "provider/a/b", "acme"):
        with pytest.raises(UsageError):
            targets.parse(malformed)


def test_an_unknown_target_names_the_closest_known_one() -> None:
    desired = DesiredState(providers={"anthropic": provider("anthropic", models=[model("haiku")])})
    live = live_state([provider("openai")])
    with pytest.raises(UsageError) as raised:
        targets.select(["provider/antropic", "model/anthropic/haiku"], desired, live)
    assert "--target provider/antropic: not in the config or the registry" in raised.value.message
    assert raised.value.hint == "did you mean 'provider/anthropic'?"
    with pytest.raises(UsageError) as far:
        targets.select(["template/zzz"], desired, live)
    assert far.value.hint == "there is no template at all"
    # Known on either side is enough: a provider only the registry holds can be targeted (to prune it).
    assert targets.select(["provider/openai", "model/anthropic/haiku"], desired, live).providers == {"openai"}


def test_a_provider_target_brings_its_models_and_its_template_and_nothing_else() -> None:
    desired = DesiredState(
        providers={
            "a": provider("a", models=[model("m1"), model("m2")]),
            "b": provider("b", models=[model("m1")]),
            "t-built": provider("t-built"),
        },
        templates={"gw": {"name": "gw", "providerConfig": {}, "defaultModels": []}},
        built_from={"t-built": "gw"},
    )
    live = live_state([])
    assert narrowed_diff(["provider/a"], desired, live, Ownership()) == [
        ("create", "provider", "a"),
        ("create", "model", "a/m1"),
        ("create", "model", "a/m2"),
    ]
    assert narrowed_diff(["provider/t-built"], desired, live, Ownership()) == [
        ("create", "template", "gw"),
        ("create", "provider", "t-built"),
    ]


def test_a_model_target_creates_a_missing_provider_but_never_updates_an_existing_one() -> None:
    desired = DesiredState(
        providers={"a": provider("a", name="renamed", models=[model("m1"), model("m2")])},
    )
    assert narrowed_diff(["model/a/m2"], desired, live_state([]), Ownership()) == [
        ("create", "provider", "a"),
        ("create", "model", "a/m2"),
    ]
    live = live_state(
        [provider("a", id="p-a")],
        [{**model("m1"), "id": "m-1", "providerIdentifier": "a"}, {**model("gone"), "providerIdentifier": "a"}],
    )
    # The provider's rename and the model the files dropped are left alone: only m2 was targeted.
    assert narrowed_diff(["model/a/m2"], desired, live, Ownership(prune=True)) == [("create", "model", "a/m2")]
    # Targeting a model the files dropped deletes it, as the whole plan would.
    assert narrowed_diff(["model/a/gone"], desired, live, Ownership()) == [("delete", "model", "a/gone")]


def test_prune_and_kept_apply_within_the_targets_only() -> None:
    desired = DesiredState(providers={"a": provider("a")})
    live = live_state([provider("a"), provider("old-1"), provider("old-2")])
    assert narrowed_diff(["provider/old-1"], desired, live, Ownership(prune=True)) == [("delete", "provider", "old-1")]
    selection = targets.select(["provider/a", "provider/old-2"], desired, live)
    small_desired, small_live = targets.narrow(desired, live, selection)
    assert [k.identifier for k in kept(small_desired, small_live, Ownership())] == ["old-2"]


def test_verification_accepts_a_target_that_the_apply_pruned_away() -> None:
    # After `apply --prune --target provider/old` neither side holds old: verification must not call it unknown.
    selection = targets.select(["provider/old"], DesiredState(), live_state([]), check=False)
    assert selection.providers == {"old"}
    with pytest.raises(UsageError):
        targets.select(["provider/old"], DesiredState(), live_state([]))
