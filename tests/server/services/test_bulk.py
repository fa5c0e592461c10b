"""Export and import: the pipe, conflict modes, dry runs, redacted secrets, and all-or-nothing."""

from __future__ import annotations

import copy
from typing import Any

from starlette.testclient import TestClient

from dpm.resources.secrets import fingerprint_matches
from tests.server import guide

EXPORT, IMPORT = "/api/admin/providers/export", "/api/admin/providers/import"


def _seed(admin: TestClient) -> dict[str, Any]:
    provider: dict[str, Any] = admin.post("/api/admin/providers", json=guide.PROVIDER).json()
    admin.post(f"/api/admin/providers/{provider['id']}/models", json=guide.MODEL)
    return provider


def _export(admin: TestClient, **options: Any) -> dict[str, Any]:
    response = admin.post(EXPORT, json=options)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_export_shape_is_redacted_and_carries_provider_identifiers(admin: TestClient) -> None:
    provider = _seed(admin)

    document = _export(admin)

    assert set(document) == {"data", "metadata"}
    assert document["data"]["providers"][0]["authConfig"]["fields"]["apiKey"] == "[REDACTED]"
    assert document["data"]["models"][0]["providerId"] == provider["id"]
    assert document["data"]["models"][0]["providerIdentifier"] == "custom-openai"
    assert document["data"]["templates"] == []
    assert document["metadata"]["exportedBy"] == "admin"
    assert document["metadata"]["revision"] >= 2


def test_export_without_body_and_by_ids(admin: TestClient) -> None:
    provider = _seed(admin)
    admin.post("/api/admin/providers", json=guide.ANTHROPIC)

    everything = admin.post(EXPORT).json()
    chosen = _export(admin, providerIds=[provider["id"]], includeModels=False)

    assert len(everything["data"]["providers"]) == 2
    assert [p["identifier"] for p in chosen["data"]["providers"]] == ["custom-openai"]
    assert chosen["data"]["models"] == []


def test_include_secrets_is_a_full_backup_not_cached(admin: TestClient) -> None:
    _seed(admin)

    response = admin.post(EXPORT, json={"includeSecrets": True})

    assert response.json()["data"]["providers"][0]["authConfig"]["fields"]["apiKey"] == "sk-your-api-key-here"
    assert response.headers["Cache-Control"] == "no-store"


def test_import_into_a_fresh_registry_with_full_backup(admin: TestClient) -> None:
    _seed(admin)
    backup = admin.post(EXPORT, json={"includeSecrets": True, "includeTemplates": True}).json()
    admin.delete(f"/api/admin/models/{backup['data']['models'][0]['id']}")
    admin.delete(f"/api/admin/providers/{backup['data']['providers'][0]['id']}")

    result = admin.post(IMPORT, json=backup).json()

    assert result["summary"]["providersImported"] == 1
    assert result["summary"]["modelsImported"] == 1
    assert result["summary"]["conflicts"] == 0
    restored = admin.get("/api/admin/providers").json()["data"][0]
    assert fingerprint_matches(restored["authConfig"]["fieldFingerprints"]["apiKey"], "sk-your-api-key-here")


def test_redacted_new_provider_cannot_be_created(admin: TestClient) -> None:
    document = {"data": {"providers": [copy.deepcopy(guide.PROVIDER)]}}
    document["data"]["providers"][0]["authConfig"]["fields"]["apiKey"] = "[REDACTED]"

    response = admin.post(IMPORT, json=document)

    assert response.status_code == 422
    assert response.json()["error"]["validationErrors"][0]["field"] == "data.providers.0.authConfig.fields.apiKey"


def test_import_is_all_or_nothing(admin: TestClient) -> None:
    bad = copy.deepcopy(guide.ANTHROPIC) | {"apiEndpoint": "not a url"}
    document = {"data": {"providers": [guide.PROVIDER, bad]}}

    response = admin.post(IMPORT, json=document)

    assert response.status_code == 422
    assert admin.get("/api/admin/providers").json()["pagination"]["total"] == 0


def test_validate_only_writes_nothing(admin: TestClient) -> None:
    document = {"data": {"providers": [guide.PROVIDER]}, "options": {"validateOnly": True}}

    result = admin.post(IMPORT, json=document).json()

    assert result["details"] == [
        {"type": "provider", "identifier": "custom-openai", "action": "created", "message": "provider created"}
    ]
    assert admin.get("/api/admin/providers").json()["pagination"]["total"] == 0


def test_conflict_modes(admin: TestClient) -> None:
    _seed(admin)
    renamed = copy.deepcopy(guide.PROVIDER) | {"name": "Renamed"}
    del renamed["description"]

    skipped = admin.post(IMPORT, json={"data": {"providers": [renamed]}, "options": {"conflictResolution": "skip"}})
    assert skipped.json()["details"][0]["action"] == "skipped"
    merged = admin.post(IMPORT, json={"data": {"providers": [renamed]}})
    after_merge = admin.get("/api/admin/providers").json()["data"][0]
    replaced = admin.post(IMPORT, json={"data": {"providers": [renamed]}, "options": {"conflictResolution": "replace"}})
    after_replace = admin.get("/api/admin/providers").json()["data"][0]

    assert merged.json()["summary"]["conflicts"] == 1
    assert after_merge["name"] == "Renamed"
    assert after_merge["description"] == guide.PROVIDER["description"]
    assert replaced.status_code == 200
    assert "description" not in after_replace  # no value: left out, never null


def test_models_of_an_unknown_provider_are_reported(admin: TestClient) -> None:
    document = {"data": {"models": [guide.MODEL | {"providerIdentifier": "ghost"}]}}

    response = admin.post(IMPORT, json=document)

    assert response.status_code == 422
    assert response.json()["error"]["validationErrors"][0]["field"] == "data.models.0"


def test_custom_templates_round_trip(admin: TestClient) -> None:
    template = {
        "name": "Mine",
        "providerConfig": {"apiEndpoint": "https://example.com/v1"},
        "defaultModels": [],
    }
    admin.post("/api/admin/provider-templates", json=template)
    exported = _export(admin, includeTemplates=True)

    result = admin.post(IMPORT, json=exported).json()

    assert [t["name"] for t in exported["data"]["templates"]] == ["Mine"]
    assert result["details"] == [
        {"type": "template", "identifier": "Mine", "action": "updated", "message": "template updated"}
    ]


def test_models_find_their_provider_by_exported_id(admin: TestClient) -> None:
    provider = dict(guide.PROVIDER, id="id-from-another-registry")
    model = dict(guide.MODEL, providerId="id-from-another-registry")

    result = admin.post(IMPORT, json={"data": {"providers": [provider], "models": [model]}})

    assert result.status_code == 200, result.text
    assert result.json()["summary"]["modelsImported"] == 1
