"""Normalization: what the server fills in or reorders is no difference; secrets compare by fingerprint."""

from __future__ import annotations

from dpm.engine.normalize import model_view, pair_secrets, provider_view
from dpm.resources.secrets import fingerprint
from dpm.values import Secret


def test_server_defaults_and_read_only_fields_are_no_diff() -> None:
    written = {
        "name": "A",
        "authMethod": "api_key",
        "authConfig": {"type": "api_key", "fields": {"apiKey": "k"}},
        "capabilities": {"maxContextLength": 10, "supportedRoles": ["user", "system"]},
    }
    live = {
        **written,
        "id": "uuid",
        "etag": "e1",
        "isSystem": False,
        "modelCount": 3,
        "createdAt": "2026-01-01T00:00:00Z",
        "description": None,
        "status": "active",
        "authConfig": {**written["authConfig"], "headers": {}, "fieldFingerprints": {"apiKey": "sha256:x:y"}},
        "capabilities": {
            "maxContextLength": 10,
            "supportedRoles": ["system", "user"],
            "supportedAuthMethods": ["api_key"],
        },
    }
    assert provider_view(written) == provider_view(live)


def test_model_defaults_are_no_diff() -> None:
    written = {"name": "m", "contextLength": 5, "pricingInfo": {"inputTokenPrice": 0.1}}
    live = {
        **written,
        "status": "active",
        "isDefault": False,
        "pricingInfo": {"inputTokenPrice": 0.1, "currency": "USD"},
    }
    assert model_view(written) == model_view(live)
    assert model_view({"name": "m"}) == model_view({"name": "m", "pricingInfo": {"currency": "USD"}})


def test_secrets_pair_by_fingerprint() -> None:
    stored = fingerprint("sk-1")
    for candidate, expected in (("sk-1", "same"), ("sk-2", "changed")):
        desired = {"apiKey": Secret(("DPM_K",), candidate)}
        live = {"apiKey": "[REDACTED]"}
        (note,) = pair_secrets(desired, live, {"apiKey": stored})
        assert note.status == expected
        assert (desired["apiKey"] == live["apiKey"]) == (expected == "same")


def test_a_secret_that_cannot_be_compared_is_unknown_never_same() -> None:
    unknown = pair_secrets({"apiKey": Secret(("DPM_K",), None)}, {"apiKey": "[REDACTED]"}, {"apiKey": fingerprint("x")})
    no_print = pair_secrets({"apiKey": "sk"}, {"apiKey": "[REDACTED]"}, {})
    odd_scheme = pair_secrets({"apiKey": "sk"}, {"apiKey": "[REDACTED]"}, {"apiKey": "md5:zz"})
    assert [n.status for n in (*unknown, *no_print, *odd_scheme)] == ["unknown", "unknown", "unknown"]


def test_added_and_removed_secrets() -> None:
    added = pair_secrets({"apiKey": "sk"}, {}, {})
    removed = pair_secrets({}, {"clientSecret": "[REDACTED]"}, {})
    assert [n.status for n in (*added, *removed)] == ["added", "removed"]
