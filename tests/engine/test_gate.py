"""The gate: which changes are tested before they are routable, what the first write holds, what the final write
switches, and the canary copies' reserved identifiers."""

from __future__ import annotations

from typing import Any

from dpm.engine.gate import canary_identifier, cost, leftovers, plan_gate, promoted, relied_on, staged
from dpm.engine.live import LiveState, live_from_export
from dpm.engine.plan import Change, FieldChange, GateTest, SecretNote


def create(kind: str, identifier: str, provider: str | None = None, status: str = "active") -> Change:
    body: dict[str, Any] = {"identifier": identifier, "status": status}
    if provider:
        body["providerIdentifier"] = provider
    return Change(action="create", kind=kind, provider=provider, identifier=identifier, body=body)


def update(kind: str, identifier: str, *paths: str, provider: str | None = None, **extra: Any) -> Change:
    fields = [FieldChange(path=p, before="old", after="new") for p in paths]
    body = {"identifier": identifier, "status": extra.pop("status", "active")}
    return Change(
        action="update",
        kind=kind,
        provider=provider,
        identifier=identifier,
        fields=fields,
        body=body,
        etag='"e1"',
        **extra,
    )


def live(providers: dict[str, str], models: dict[str, dict[str, str]] | None = None) -> LiveState:
    state = LiveState()
    for identifier, status in providers.items():
        state.providers[identifier] = {
            "id": f"id-{identifier}",
            "identifier": identifier,
            "status": status,
            "etag": '"p"',
        }
        state.models[identifier] = {}
    for owner, found in (models or {}).items():
        for identifier, status in found.items():
            state.models[owner][identifier] = {"id": f"id-{identifier}", "status": status, "etag": '"m"'}
    return state


def keys(tests: list[GateTest]) -> list[tuple[str, str, str, str | None]]:
    return [(t.kind, t.key, t.reason, t.canary) for t in tests]


def test_new_and_activated_objects_are_tested_providers_first_and_models_only_under_an_active_provider() -> None:
    changes = [
        create("provider", "acme"),
        create("model", "m1", "acme"),
        create("provider", "quiet", status="inactive"),
        create("model", "q1", "quiet"),  # its provider is not routable: nothing to test
        update("model", "m2", "status", provider="old", status="active"),
        update("model", "m3", "description", provider="old"),  # already active, not a connection: no test
        create("model", "m4", "old", status="inactive"),  # stays not routable
    ]
    gate = plan_gate(changes, live({"old": "active"}, {"old": {"m2": "inactive", "m3": "active"}}))
    assert keys(gate.tests) == [
        ("provider", "acme", "new", None),
        ("model", "acme/m1", "new", None),
        ("model", "old/m2", "activated", None),
    ]
    assert gate.requests == 1 + 3 + 1  # an export, the tests, the final write


def test_models_left_untested_under_an_unchanged_provider_that_is_not_active_rest_on_its_etag() -> None:
    changes = [
        create("model", "q1", "quiet"),  # becomes active, untested: its provider is not routable
        update("model", "q2", "status", provider="paused", status="active"),  # activated, untested, the same
        create("model", "q3", "off", status="inactive"),  # stays not routable: nothing rests on its provider
        create("model", "a1", "busy"),  # its provider is active: tested, so nothing rests on it
        update("provider", "moving", "description", status="inactive"),  # its own precondition covers it
        create("model", "m1", "moving"),
    ]
    providers = {"quiet": "inactive", "paused": "testing", "off": "inactive", "busy": "active", "moving": "inactive"}
    state = live(providers, {"paused": {"q2": "inactive"}})
    gate = plan_gate(changes, state)
    assert [(p.identifier, p.etag) for p in gate.untestedUnder] == [("paused", '"p"'), ("quiet", '"p"')]
    assert keys(gate.tests) == [("model", "busy/a1", "new", None)]
    assert relied_on([changes[0], changes[3]], gate) == [{"type": "provider", "identifier": "quiet", "ifMatch": '"p"'}]


def test_an_active_providers_new_connection_is_tested_on_a_canary_with_copies_of_its_new_models() -> None:
    changes = [
        update("provider", "acme", "apiEndpoint"),
        create("model", "fresh", "acme"),
        update("provider", "rotated", secrets=[SecretNote(field="apiKey", status="changed")]),
        update("provider", "renamed", "description"),  # not a connection setting: no test
        update("provider", "waking", "apiEndpoint", "status"),  # not routable yet: tested as itself, no canary
    ]
    state = live({"acme": "active", "rotated": "active", "renamed": "active", "waking": "inactive"})
    gate = plan_gate(changes, state)
    assert keys(gate.tests) == [
        ("provider", "acme", "new-settings", "dpm-canary-acme"),
        ("model", "acme/fresh", "new", "dpm-canary-acme"),
        ("provider", "rotated", "new-settings", "dpm-canary-rotated"),
        ("provider", "waking", "activated", None),
    ]
    assert gate.canaries == ["dpm-canary-acme", "dpm-canary-rotated"]
    # an export, 4 tests, the canary model copy's delete, two canary deletes, the final write
    assert cost(gate.tests, state) == 1 + 4 + 1 + 2 + 1

    first = staged(changes, gate)
    written = {(c.kind, c.key): c for c in first}
    assert ("provider", "acme") not in written  # the live provider keeps its settings until the canary passes
    canary = written["provider", "dpm-canary-acme"]
    assert canary.action == "create"
    assert canary.body is not None
    assert (canary.body["identifier"], canary.body["status"]) == ("dpm-canary-acme", "testing")
    assert written["model", "acme/fresh"].body == {
        "identifier": "fresh",
        "status": "inactive",
        "providerIdentifier": "acme",
    }
    copy = written["model", "dpm-canary-acme/fresh"].body
    assert copy == {"identifier": "fresh", "status": "inactive", "providerIdentifier": "dpm-canary-acme"}
    assert written["provider", "waking"].body == {"identifier": "waking", "status": "testing"}
    assert written["provider", "renamed"] is changes[3]  # untested changes go as planned


def test_the_final_write_holds_only_what_passed_at_the_etag_the_first_write_left() -> None:
    changes = [create("provider", "acme"), create("model", "m1", "acme"), update("provider", "live", "apiEndpoint")]
    state = live({"live": "active"})
    gate = plan_gate(changes, state)
    after_first = live({"acme": "testing", "live": "active"}, {"acme": {"m1": "inactive"}})
    passed = [t for t in gate.tests if t.key != "acme/m1"]
    final = promoted(changes, passed, after_first)
    assert [(c.action, c.key, c.etag) for c in final] == [("update", "acme", '"p"'), ("update", "live", '"e1"')]
    assert final[0].body == {"identifier": "acme", "status": "active"}  # as the plan wants it


def test_canary_identifiers_stay_within_the_limit_and_distinct() -> None:
    assert canary_identifier("openai") == "dpm-canary-openai"
    long_one, long_two = "a" * 45, "a" * 44 + "b"
    first, second = canary_identifier(long_one), canary_identifier(long_two)
    assert len(first) <= 50
    assert len(second) <= 50
    assert first != second
    assert first.startswith("dpm-canary-")


def test_leftover_canaries_are_kept_apart_from_the_registry_and_deleted_models_first() -> None:
    export = {
        "data": {
            "providers": [
                {"id": "1", "identifier": "acme", "status": "active", "etag": '"a"'},
                {"id": "2", "identifier": "dpm-canary-acme", "status": "testing", "etag": '"c"'},
            ],
            "models": [{"id": "3", "identifier": "m1", "providerId": "2", "status": "inactive", "etag": '"m"'}],
        }
    }
    state = live_from_export(export)
    assert list(state.providers) == ["acme"]  # nothing compares, keeps, prunes or dumps a canary
    assert state.models == {"acme": {}}
    assert [(c.action, c.kind, c.key, c.liveId, c.etag) for c in leftovers(state)] == [
        ("delete", "model", "dpm-canary-acme/m1", "3", '"m"'),
        ("delete", "provider", "dpm-canary-acme", "2", '"c"'),
    ]
