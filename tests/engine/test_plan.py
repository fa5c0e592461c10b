"""The plan as a value: its checksum seals it, its changes order themselves, and it counts them."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dpm.engine.plan import Change, Counts, FieldChange, Plan, RequestCost, SecretNote, count
from dpm.values import Diagnostic


def sample_plan() -> Plan:
    masked = "(sensitive value)"
    changes = [
        Change(
            action="update",
            kind="provider",
            identifier="acme",
            fields=[FieldChange(path="authConfig.fields.apiKey", before=masked, after=masked)],
            secrets=[SecretNote(field="apiKey", status="changed")],
            liveId="p-1",
            etag='"e1"',
            liveVersion='"e1"',
            body={"identifier": "acme", "authConfig": {"fields": {"apiKey": {"$secret": "${{ secret.DPM_K }}"}}}},
        ),
        Change(action="delete", kind="model", provider="acme", identifier="old", liveId="m-1"),
    ]
    return Plan(
        target="registry http://r/api",
        changes=changes,
        counts=count(changes),
        requests=RequestCost(plan=1, apply=4),
        vars={"region": "eu"},
    ).sealed()


def test_a_sealed_plan_survives_its_json_form_unchanged() -> None:
    plan = sample_plan()
    assert plan.checksum == plan.compute_checksum()
    assert plan.checksum is not None
    assert plan.checksum.startswith("sha256:")
    read_back = Plan.model_validate_json(plan.model_dump_json())
    assert read_back == plan
    assert read_back.compute_checksum() == plan.checksum


@pytest.mark.parametrize(
    "edit",
    [
        {"target": "registry http://other/api"},
        {"vars": {"region": "us"}},
        {"warnings": ["an added warning"]},
        {"requests": RequestCost(plan=1, apply=5)},
        {"liveRevision": 7},
    ],
    ids=["target", "vars", "warnings", "requests", "revision"],
)
def test_any_edit_to_the_plan_changes_its_checksum(edit: dict[str, Any]) -> None:
    plan = sample_plan()
    assert plan.model_copy(update=edit).compute_checksum() != plan.checksum


def test_an_edit_deep_inside_a_change_changes_the_checksum_too() -> None:
    plan = sample_plan()
    document = plan.model_dump(mode="json")
    document["changes"][0]["body"]["authConfig"]["fields"]["apiKey"]["$secret"] = "${{ secret.DPM_OTHER }}"
    assert Plan.model_validate(document).compute_checksum() != plan.checksum
    document = plan.model_dump(mode="json")
    document["changes"][1]["liveId"] = "m-2"
    assert Plan.model_validate(document).compute_checksum() != plan.checksum


def test_order_runs_creates_and_updates_top_down_and_deletes_bottom_up() -> None:
    changes = [
        Change(action=action, kind=kind, identifier=name, provider="p" if kind == "model" else None)
        for action in ("create", "update", "delete")
        for kind, name in (("template", "t"), ("provider", "p"), ("model", "m"))
    ]
    shuffled = random.Random(4).sample(changes, len(changes))
    ordered = [(c.action == "delete", c.kind) for c in sorted(shuffled, key=Change.order)]
    writes, deletes = False, True
    assert ordered == [
        (writes, "template"),
        (writes, "template"),
        (writes, "provider"),
        (writes, "provider"),
        (writes, "model"),
        (writes, "model"),
        (deletes, "model"),
        (deletes, "provider"),
        (deletes, "template"),
    ]


def test_a_model_is_named_by_its_provider_and_ties_sort_by_that_name() -> None:
    models = [Change(action="create", kind="model", provider=p, identifier=m) for p, m in (("b", "a"), ("a", "z"))]
    assert [c.key for c in sorted(models, key=Change.order)] == ["a/z", "b/a"]
    assert Change(action="create", kind="provider", identifier="a").key == "a"


def test_count_tallies_each_action() -> None:
    plan = sample_plan()
    assert plan.counts == Counts(create=0, update=1, delete=1)
    assert plan.counts.total == 2
    assert count([]) == Counts()
    assert Plan(target="t", requests=RequestCost(plan=1, apply=0)).empty


def test_the_plans_strings_are_every_text_it_holds_where_a_secret_could_hide() -> None:
    leak = "sk-canary-strings-77c1"
    plan = sample_plan()
    change = plan.changes[0].model_copy(
        update={"body": {"authConfig": {"headers": {"X-Key": f"Bearer {leak}"}, leak + "-as-key": 1}}}
    )
    finding = Diagnostic("error", "policy", f"quotes {leak}", None, None, None, "")
    found = plan.model_copy(update={"changes": [change], "policy": [finding], "warnings": ["w"]}).strings()
    assert {f"Bearer {leak}", f"{leak}-as-key", f"quotes {leak}", "w", "eu", "region"} <= found
    assert "1" in found  # as text: an all-digit secret written in clear reads as a number
