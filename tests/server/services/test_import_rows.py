"""Import writes its rows in bulk (``services.import_writes``); they must be the rows the per-resource routes
write for the same bodies, and ``isDefault`` must settle as it does when the models are written one by one."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from dpm_server.context import AppContext
from dpm_server.db.tables import Model, Provider
from tests.server import guide

IMPORT, PROVIDERS = "/api/admin/providers/import", "/api/admin/providers"
# Set by the server, different on every write: compared by presence only.
_VOLATILE = {"id", "provider_id", "etag", "created_at", "updated_at", "secret_ciphertexts", "secret_fingerprints"}


def _context(client: TestClient) -> AppContext:
    context: AppContext = client.app.state.context  # type: ignore[attr-defined]
    return context


def _bodies(prefix: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    oauth = copy.deepcopy(guide.PROVIDER) | {"identifier": f"{prefix}-oauth", "name": "OAuth ✓"}
    oauth.pop("description")
    oauth["authMethod"] = "oauth2"
    oauth["authConfig"] = {
        "type": "oauth2",
        "fields": {"clientId": "client", "clientSecret": "s3cret", "tokenUrl": "https://t.example/token"},
        "headers": {"X-Org": "org-1"},
    }
    providers = [guide.PROVIDER | {"identifier": f"{prefix}-openai"}, oauth]
    bare = {k: v for k, v in guide.MODEL.items() if k not in {"description", "pricingInfo"}} | {"identifier": "bare"}
    rich = copy.deepcopy(guide.MODEL) | {"identifier": "rich", "isDefault": True, "status": "inactive"}
    return providers, [guide.MODEL, bare, rich]


def _rows(admin: TestClient, prefix: str) -> list[dict[str, Any]]:
    """Every stored column of the prefix's providers and models, the volatile ones reduced to their presence."""
    found = []
    with _context(admin).db.read() as session:
        providers = session.execute(
            select(Provider.__table__).where(Provider.identifier.like(f"{prefix}-%")).order_by(Provider.identifier)
        ).all()
        for provider in providers:
            models = session.execute(
                select(Model.__table__).where(Model.provider_id == provider.id).order_by(Model.identifier)
            ).all()
            for row in [provider, *models]:
                values = dict(row._mapping)
                values["identifier"] = values["identifier"].removeprefix(f"{prefix}-")
                found.append({k: (bool(v) if k in _VOLATILE else v) for k, v in values.items()})
            found[-len(models) - 1]["secret_fields"] = sorted(provider.secret_ciphertexts)
    return found


def test_an_import_writes_the_rows_the_per_resource_routes_write(admin: TestClient) -> None:
    providers, models = _bodies("route")
    for body in providers:
        created = admin.post(PROVIDERS, json=body)
        assert created.status_code == 201, created.text
        for model in models:
            assert admin.post(f"{PROVIDERS}/{created.json()['id']}/models", json=model).status_code == 201

    providers, models = _bodies("bulk")
    document = {
        "providers": providers,
        "models": [m | {"providerIdentifier": p["identifier"]} for p in providers for m in models],
    }
    imported = admin.post(IMPORT, json={"data": document})

    assert imported.status_code == 200, imported.text
    assert _rows(admin, "bulk") == _rows(admin, "route")
    backup = admin.post("/api/admin/providers/export", json={"includeSecrets": True}).json()["data"]["providers"]
    secrets = {p["identifier"]: p["authConfig"]["fields"] for p in backup}
    assert secrets["bulk-oauth"] == secrets["route-oauth"]
    assert secrets["bulk-openai"] == secrets["route-openai"]


def test_is_default_clears_the_stored_default(admin: TestClient) -> None:
    provider = admin.post(PROVIDERS, json=guide.PROVIDER).json()
    stored = [
        guide.MODEL | {"identifier": name, "isDefault": name == "stored-default"}
        for name in ("stored-default", "other")
    ]
    for body in stored:
        assert admin.post(f"{PROVIDERS}/{provider['id']}/models", json=body).status_code == 201
    owner = {"providerIdentifier": guide.PROVIDER["identifier"]}
    models = [
        guide.MODEL | owner | {"identifier": "first"},
        guide.MODEL | owner | {"identifier": "second", "isDefault": True},
        guide.MODEL | owner | {"identifier": "stored-default", "name": "Renamed"},  # a merge: isDefault left out
        guide.MODEL | owner | {"identifier": "third"},
    ]

    imported = admin.post(IMPORT, json={"data": {"models": models}, "options": {"conflictResolution": "merge"}})

    assert imported.status_code == 200, imported.text
    listed = admin.get(f"{PROVIDERS}/{provider['id']}/models").json()
    assert {m["identifier"]: m["isDefault"] for m in listed} == {
        "first": False,
        "other": False,
        "second": True,  # the stored default lost its flag, though its own update came later in the file
        "stored-default": False,
        "third": False,
    }
    assert next(m for m in listed if m["identifier"] == "stored-default")["name"] == "Renamed"


def test_a_merge_that_breaks_a_rule_with_stored_fields_writes_nothing(admin: TestClient) -> None:
    provider = admin.post(PROVIDERS, json=guide.PROVIDER).json()
    admin.post(f"{PROVIDERS}/{provider['id']}/models", json=guide.MODEL)
    before = admin.post("/api/admin/providers/export", json={}).json()["data"]
    # The stored capabilities allow 8192 tokens; a merge that raises only contextLength breaks that rule.
    change = {"identifier": guide.MODEL["identifier"], "contextLength": 100000}
    body = {
        "data": {
            "providers": [guide.PROVIDER | {"name": "Renamed"}],
            "models": [change | {"providerIdentifier": guide.PROVIDER["identifier"]}],
        },
        "options": {"conflictResolution": "merge"},
    }

    refused = admin.post(IMPORT, json=body)

    assert refused.status_code == 422, refused.text
    assert admin.post("/api/admin/providers/export", json={}).json()["data"] == before
