"""Apply: the requests a plan becomes, and carrying them out against a real registry, truthfully reporting how far
it got."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from dpm.config.render import Renderer
from dpm.engine.apply import StepProgress, carry_out, steps, unset_secrets
from dpm.engine.payload import SecretMoved
from dpm.engine.plan import Change, SecretNote
from dpm.registry.client import RegistryClient
from dpm.resources.secrets import fingerprint, fingerprint_matches

CANARY = "sk-canary-apply-8d7e6f"
KEY = "${{ secret.DPM_ACME_KEY }}"
ENVIRON = {"DPM_ACME_KEY": CANARY}


def provider(identifier: str, max_context: int = 8192, **fields: Any) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "name": identifier.title(),
        "apiEndpoint": f"https://{identifier}.example/v1",
        "authMethod": "api_key",
        "authConfig": {
            "type": "api_key",
            "fields": {"apiKey": fields.pop("api_key", "local")},
            "headers": {"Authorization": "Bearer {{apiKey}}"},
        },
        "capabilities": {
            "supportsSystemMessages": True,
            "maxContextLength": max_context,
            "supportedRoles": ["user"],
            "supportsStreaming": True,
            "supportsTools": False,
        },
        **fields,
    }


def model(owner: str, identifier: str, context: int = 4096) -> dict[str, Any]:
    capabilities = {
        "supportsSystemMessages": True,
        "maxContextLength": context,
        "supportedRoles": ["user"],
        "supportsStreaming": True,
        "supportsTools": False,
        "supportsFunctionCalling": False,
    }
    return {
        "identifier": identifier,
        "name": identifier,
        "contextLength": context,
        "capabilities": capabilities,
        "providerIdentifier": owner,
    }


def create_provider(identifier: str, **fields: Any) -> Change:
    return Change(action="create", kind="provider", identifier=identifier, body=provider(identifier, **fields))


def create_model(owner: str, identifier: str, context: int = 4096) -> Change:
    body = model(owner, identifier, context)
    return Change(action="create", kind="model", provider=owner, identifier=identifier, body=body)


def delete(kind: str, identifier: str, live_id: str, etag: str | None = None) -> Change:
    return Change(action="delete", kind=kind, identifier=identifier, liveId=live_id, etag=etag)


def keys(changes: list[Change]) -> list[str]:
    return [f"{c.action} {c.key}" for c in changes]


# -- steps: the requests a plan becomes ---------------------------------------------------------------------------


def test_imports_come_first_then_the_deletes_in_plan_order() -> None:
    changes = [
        delete("model", "old-model", "m-1"),
        create_provider("acme"),
        delete("provider", "old", "p-1"),
        create_model("acme", "small"),
    ]
    planned = steps(changes)
    assert [step.label for step in planned] == [
        "import of 2 change(s)",
        "delete model old-model",
        "delete provider old",
    ]
    assert planned[0].body == {"providers": [provider("acme")], "models": [model("acme", "small")], "templates": []}
    assert [step.body for step in planned[1:]] == [None, None]


def test_a_provider_travels_with_its_models_when_batches_split() -> None:
    changes = [
        create_provider("acme"),
        create_provider("beta"),
        create_model("acme", "small"),
        create_model("beta", "tiny"),
        create_model("acme", "large"),
    ]
    # Too small for any group: each provider's group still goes whole, in a batch of its own.
    assert [keys(step.changes) for step in steps(changes, max_bytes=1)] == [
        ["create acme", "create acme/small", "create acme/large"],
        ["create beta", "create beta/tiny"],
    ]
    assert [keys(step.changes) for step in steps(changes)] == [
        ["create acme", "create acme/small", "create acme/large", "create beta", "create beta/tiny"]
    ]


def test_batches_fill_up_to_max_bytes() -> None:
    changes = [create_provider(name) for name in ("a", "b", "c")]
    one = len(json.dumps(changes[0].body))
    assert [len(step.changes) for step in steps(changes, max_bytes=2 * one + 2)] == [2, 1]
    assert [len(step.changes) for step in steps(changes, max_bytes=3 * one + 3)] == [3]


def test_unset_secrets_of_creates_and_of_secrets_an_update_adds_are_named() -> None:
    marker = {"$secret": KEY, "fingerprint": None}
    changes = [
        create_provider("acme", api_key=marker),
        # The registry holds beta's key already: an unknown value keeps it, so that is no obstacle.
        Change(action="update", kind="provider", identifier="beta", body=provider("beta", api_key=marker)),
        # Gamma's key is new: without its value there is nothing to send.
        Change(
            action="update",
            kind="provider",
            identifier="gamma",
            body=provider("gamma", api_key=marker),
            secrets=[SecretNote(field="apiKey", status="added")],
        ),
    ]
    assert unset_secrets(changes, Renderer({}, {})) == [
        "provider acme: ${{ secret.DPM_ACME_KEY }} cannot be resolved (not set in the environment)",
        "provider gamma: ${{ secret.DPM_ACME_KEY }} cannot be resolved (not set in the environment)",
    ]
    assert unset_secrets(changes, Renderer({}, ENVIRON)) == []


# -- carry_out: against a real registry ---------------------------------------------------------------------------


def registry_holds(client: RegistryClient) -> dict[str, dict[str, Any]]:
    data = client.export()["data"]
    held = {p["identifier"]: p for p in data["providers"]}
    held |= {f"{m['providerIdentifier']}/{m['identifier']}": m for m in data["models"]}
    return held


def test_carry_out_sends_each_step_and_the_secret_only_in_the_request(client: RegistryClient) -> None:
    marker = {"$secret": KEY, "fingerprint": fingerprint(CANARY)}
    planned = steps([create_provider("acme", api_key=marker), create_model("acme", "small")])
    said: list[StepProgress] = []
    outcome = carry_out(planned, client, Renderer({}, ENVIRON), said.append)
    assert outcome.ok
    assert keys(outcome.applied) == ["create acme", "create acme/small"]
    assert (outcome.failed, outcome.remaining) == ([], [])
    assert [step.line for step in said] == ["import 1/1: 2 change(s): …", "import 1/1: 2 change(s): done"]
    held = registry_holds(client)
    assert sorted(held) == ["acme", "acme/small"]
    assert fingerprint_matches(held["acme"]["authConfig"]["fieldFingerprints"]["apiKey"], CANARY)
    assert CANARY not in repr(outcome) + repr(planned) + repr(said)


def test_a_failing_step_stops_the_run_and_the_outcome_says_exactly_what_happened(client: RegistryClient) -> None:
    changes = [
        create_provider("acme"),
        create_model("acme", "small"),
        create_provider("beta", max_context=1000),
        create_model("beta", "too-long", context=2000),  # longer than its provider allows: the registry refuses
        delete("provider", "old", str(uuid.uuid4())),
    ]
    said: list[StepProgress] = []
    outcome = carry_out(steps(changes, max_bytes=1), client, Renderer({}, {}), said.append)
    assert not outcome.ok
    assert keys(outcome.applied) == ["create acme", "create acme/small"]
    assert keys(outcome.failed) == ["create beta", "create beta/too-long"]
    assert keys(outcome.remaining) == ["delete old"]
    assert outcome.error is not None
    assert outcome.error.startswith("import of 2 change(s) failed: POST /admin/providers/import: 422")
    # Imports and deletes are counted apart; the failed step is reported as failed, and the delete never started.
    assert [step.line for step in said if step.state != "sending"] == [
        "import 1/2: 2 change(s): done",
        "import 2/2: 2 change(s): failed",
    ]
    assert sorted(registry_holds(client)) == ["acme", "acme/small"]  # the failed import left nothing behind


def test_a_delete_of_something_already_gone_counts_as_done(client: RegistryClient) -> None:
    carry_out(steps([create_provider("acme"), create_provider("beta")]), client, Renderer({}, {}))
    acme = registry_holds(client)["acme"]
    changes = [
        delete("provider", "acme", acme["id"], acme["etag"]),
        delete("provider", "never-there", str(uuid.uuid4())),
    ]
    outcome = carry_out(steps(changes), client, Renderer({}, {}))
    assert outcome.ok, outcome.error
    assert keys(outcome.applied) == ["delete acme", "delete never-there"]
    assert sorted(registry_holds(client)) == ["beta"]


def test_a_secret_that_moved_is_refused_before_any_request_is_sent(client: RegistryClient) -> None:
    marker = {"$secret": KEY, "fingerprint": fingerprint(CANARY + "-when-planned")}
    planned = [*steps([create_provider("beta")]), *steps([create_provider("acme", api_key=marker)])]
    with pytest.raises(SecretMoved) as refused:
        carry_out(planned, client, Renderer({}, ENVIRON))
    assert CANARY not in str(refused.value)
    assert registry_holds(client) == {}
