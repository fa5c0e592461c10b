"""A create's fields, read from its body: what the diff would have listed, with every secret as a token."""

from __future__ import annotations

import json
from typing import Any

from dpm.config.compile import DesiredState
from dpm.engine import payload
from dpm.engine.diff import diff
from dpm.engine.fields import fields_of
from dpm.engine.live import live_from_export
from dpm.values import Ownership, Secret

CANARY = "sk-canary-fields-51b7"


def desired() -> DesiredState:
    secret = Secret(("DPM_ACME_KEY",), CANARY, "${{ secret.DPM_ACME_KEY }}")
    provider = {
        "identifier": "acme",
        "name": "Acme",
        "apiEndpoint": "https://acme.example/v1",
        "authMethod": "api_key",
        # A secret, and a sensitive name given as a literal: both read as secrets.
        "authConfig": {"type": "api_key", "fields": {"apiKey": secret, "password": "literal", "region": "eu"}},
        "capabilities": {"supportedRoles": ["user", "system"], "maxContextLength": 10, "rateLimits": {}},
        "models": [{"identifier": "m", "name": "M", "contextLength": 5, "pricingInfo": {"currency": "USD"}}],
    }
    template = {
        "name": "gateway",
        "description": None,
        "providerConfig": {"authConfig": {"type": "api_key", "fields": {"apiKey": secret}, "extra": 1}},
        "defaultModels": [{"identifier": "b", "name": "B"}, {"identifier": "a", "name": "A"}],
    }
    return DesiredState(providers={"acme": provider}, templates={"gateway": template})


def planned() -> dict[str, Any]:
    state = desired()
    empty = live_from_export({"data": {"providers": [], "models": [], "templates": []}})
    changes, _ = diff(state, empty, Ownership())
    return {c.key: c.model_copy(update={"body": payload.body(c, state)}) for c in changes}


def shown(change: Any) -> list[tuple[str, Any]]:
    return [(f.path, f.after) for f in fields_of(change)]


def test_a_create_holds_no_field_list_and_shows_its_body_normalized() -> None:
    changes = planned()
    assert all(c.fields == [] for c in changes.values())
    assert shown(changes["acme"]) == [
        ("name", "Acme"),
        ("apiEndpoint", "https://acme.example/v1"),
        ("authMethod", "api_key"),
        ("authConfig.type", "api_key"),
        ("authConfig.fields.apiKey", "(sensitive value, new)"),
        ("authConfig.fields.password", "(sensitive value, new)"),
        ("authConfig.fields.region", "eu"),
        ("authConfig.headers", {}),
        ("capabilities.supportedRoles", ["system", "user"]),
        ("capabilities.maxContextLength", 10),
        ("capabilities.supportedAuthMethods", ["api_key"]),
        ("status", "active"),
    ]
    assert shown(changes["acme/m"]) == [("name", "M"), ("contextLength", 5), ("status", "active"), ("isDefault", False)]


def test_a_template_create_shows_its_secrets_as_tokens_and_its_models_sorted() -> None:
    fields = dict(shown(planned()["gateway"]))
    assert fields["providerConfig.authConfig.fields.apiKey"] == "(sensitive value, new)"
    assert "providerConfig.authConfig.extra" not in fields
    assert [m["identifier"] for m in fields["defaultModels"]] == ["a", "b"]


def test_no_secret_value_or_marker_reaches_the_shown_fields() -> None:
    text = json.dumps([shown(c) for c in planned().values()])
    assert CANARY not in text
    assert "literal" not in text
    assert payload.MARKER not in text


def test_an_update_and_a_delete_show_the_fields_they_list() -> None:
    state = desired()
    live = live_from_export(
        {
            "data": {
                "providers": [],
                "models": [{"identifier": "m", "name": "Old", "contextLength": 5, "providerIdentifier": "acme"}],
                "templates": [],
            }
        }
    )
    state.providers["acme"]["models"] = []
    changes, _ = diff(state, live, Ownership())
    (gone,) = [c for c in changes if c.action == "delete"]
    assert fields_of(gone) == gone.fields
    assert ("name", "Old") in [(f.path, f.before) for f in gone.fields]
