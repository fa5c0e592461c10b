"""The export builds its answer from stored text (``services.exporting``); it must say exactly what the views say.

The reference below is the export as it was built before, from ORM rows through ``dpm_server.views``: the same
keys, the same values and the same order, on SQLite and PostgreSQL, for a registry that holds every kind of field.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from dpm_server.context import AppContext
from dpm_server.db.tables import Model, Provider, Template
from dpm_server.services.providers import model_counts
from dpm_server.views import model_view, provider_view, template_view
from tests.server import guide

EXPORT = "/api/admin/providers/export"
PROVIDERS = "/api/admin/providers"


def _seed(admin: TestClient) -> list[str]:
    """Providers with headers, several secrets and no description; models with and without optional fields, a
    default, a test result, non-ASCII text; a custom template holding a secret. Returns the provider ids."""
    oauth = copy.deepcopy(guide.PROVIDER) | {"identifier": "oauth-provider", "name": "OAuth 提供者 🚀"}
    oauth.pop("description")
    oauth["authMethod"] = "oauth2"
    oauth["authConfig"] = {
        "type": "oauth2",
        "fields": {"clientId": "client", "clientSecret": "s3cret", "tokenUrl": "https://t.example/token"},
        "headers": {"X-Org": "org-1", "Authorization": "Bearer {{clientSecret}}"},
    }
    ids = []
    for body in (guide.PROVIDER, guide.ANTHROPIC, oauth):
        created = admin.post(PROVIDERS, json=body)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    bare = {k: v for k, v in guide.MODEL.items() if k not in {"description", "pricingInfo"}} | {"identifier": "bare"}
    rich = copy.deepcopy(guide.MODEL) | {"identifier": "rich", "isDefault": True, "description": 'línea\n"quoted"'}
    rich["pricingInfo"] = {"inputTokenPrice": 1e-05, "outputTokenPrice": 12345678.125, "currency": "EUR"}
    for provider_id in ids:
        for body in (guide.MODEL, bare, rich):
            created = admin.post(f"{PROVIDERS}/{provider_id}/models", json=body)
            assert created.status_code == 201, created.text
    template = {
        "name": "Mine",
        "description": "a template with a secret",
        "providerConfig": {
            "apiEndpoint": "https://example.com/v1",
            "authMethod": "api_key",
            "authConfig": {"type": "api_key", "fields": {"apiKey": "sk-template"}, "headers": {"k": "v"}},
        },
        "defaultModels": [guide.MODEL],
    }
    assert admin.post("/api/admin/provider-templates", json=template).status_code == 201
    # A connectivity test's result, as the test routes store it.
    result = json.dumps({"success": False, "responseTime": 17, "error": "upstream said 'no' ✗"})
    with _context(admin).db.engine.begin() as connection:
        for table in ("providers", "models"):
            connection.execute(
                text(f"UPDATE {table} SET test_result = :r, last_tested = updated_at WHERE identifier LIKE '%i%'"),
                {"r": result},
            )
    return ids


def _context(client: TestClient) -> AppContext:
    context: AppContext = client.app.state.context  # type: ignore[attr-defined]
    return context


def _reference(admin: TestClient, options: dict[str, Any]) -> dict[str, Any]:
    """The export's data as the views build it from ORM rows, sorted as the export sorts."""
    context = _context(admin)
    opener = context.box if options.get("includeSecrets") else None
    wanted = options.get("providerIds")
    with context.db.read() as session:
        query = select(Provider).order_by(Provider.identifier)
        if wanted is not None:
            query = query.where(Provider.id.in_(wanted))
        rows = list(session.scalars(query))
        counts = model_counts(session)
        identifiers = {row.id: row.identifier for row in rows}
        models = [
            model_view(m, identifiers[m.provider_id])
            for m in session.scalars(select(Model))
            if m.provider_id in identifiers and options.get("includeModels", True)
        ]
        models.sort(key=lambda m: (m["providerIdentifier"], m["identifier"]))
        custom = select(Template).where(Template.is_system.is_(False)).order_by(Template.name)
        templates = (
            [template_view(t, opener) for t in session.scalars(custom)] if options.get("includeTemplates") else []
        )
        providers = [provider_view(row, counts.get(row.id, 0), opener) for row in rows]
    return {"providers": providers, "models": models, "templates": templates}


def _ordered(value: Any) -> Any:
    """``value`` with every object as a list of pairs, so that comparing also compares the order of keys."""
    if isinstance(value, dict):
        return [(key, _ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


@pytest.mark.parametrize(
    "options",
    [
        {"includeTemplates": True},
        {"includeTemplates": True, "includeSecrets": True},
        {"includeModels": False},
        {"chosen": True},
    ],
    ids=["redacted", "with-secrets", "without-models", "chosen-providers"],
)
def test_the_export_says_what_the_views_say(admin: TestClient, options: dict[str, Any]) -> None:
    ids, options = _seed(admin), dict(options)
    if options.pop("chosen", False):
        options["providerIds"] = ids[1:]

    response = admin.post(EXPORT, json=options)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert "X-DPM-Data-Problems" not in response.headers
    exported = response.json()
    assert _ordered(exported["data"]) == _ordered(_reference(admin, options))
    assert list(exported["metadata"]) == ["exportedAt", "exportedBy", "version", "revision"]
    providers = exported["data"]["providers"]
    assert providers, "the registry is seeded"
    if options.get("includeModels", True):
        assert {m["identifier"] for m in exported["data"]["models"]} == {"gpt-4", "bare", "rich"}
        assert any("testResult" in m and "lastTested" in m for m in exported["data"]["models"])
    if not options.get("includeSecrets"):
        assert "s3cret" not in response.text
        assert "sk-template" not in response.text
        assert "sk-your-api-key-here" not in response.text


def test_a_stored_json_null_is_left_out_as_the_views_leave_it_out(admin: TestClient) -> None:
    ids = _seed(admin)
    with _context(admin).db.engine.begin() as connection:
        connection.execute(text("UPDATE models SET pricing_info = 'null', test_result = NULL"))

    exported = admin.post(EXPORT, json={}).json()

    assert all("pricingInfo" not in m and "testResult" not in m for m in exported["data"]["models"])
    assert _ordered(exported["data"]) == _ordered(_reference(admin, {}))
    assert len(exported["data"]["providers"]) == len(ids)
