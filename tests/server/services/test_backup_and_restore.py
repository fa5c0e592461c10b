"""Export and import beyond the basics: atomicity, every conflict mode on every kind, secrets kept or refused,
the full backup (admins only, audited, never cached) and its restore into an empty second instance."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dpm.resources.secrets import fingerprint_matches
from dpm_server import create_app
from dpm_server.auth import users
from dpm_server.context import AppContext
from dpm_server.services import templates
from tests.server import guide
from tests.server.conftest import login, make_settings

EXPORT, IMPORT = "/api/admin/providers/export", "/api/admin/providers/import"
STATUS, PROVIDERS = "/api/admin/providers/registry-status", "/api/admin/providers"
OAUTH: dict[str, Any] = {
    "identifier": "corp-oauth",
    "name": "Corp OAuth",
    "apiEndpoint": "https://llm.corp.example/v1",
    "authMethod": "oauth2",
    "authConfig": {
        "type": "oauth2",
        "fields": {"clientId": "corp-client", "clientSecret": "oauth-secret-1", "tokenUrl": "https://id.example/t"},
        "headers": {"Authorization": "Bearer {{clientSecret}}"},
    },
    "capabilities": guide.ANTHROPIC["capabilities"],
    "status": "inactive",
}
TEMPLATE: dict[str, Any] = {
    "name": "Corp template",
    "description": "with a secret",
    "providerConfig": {
        "apiEndpoint": "https://llm.corp.example/v1",
        "authMethod": "api_key",
        "authConfig": {"type": "api_key", "fields": {"apiKey": "template-secret-1"}, "headers": {}},
    },
    "defaultModels": [guide.MODEL],
}


def _revision(client: TestClient) -> int:
    value: int = client.get(STATUS).json()["revision"]
    return value


def _count(client: TestClient) -> tuple[int, int, int]:
    providers = client.get(PROVIDERS).json()["data"]
    models = sum(p["modelCount"] for p in providers)
    custom = [t for t in client.get("/api/admin/provider-templates").json() if not t["isSystem"]]
    return len(providers), models, len(custom)


def _seed(admin: TestClient) -> None:
    openai = admin.post(PROVIDERS, json=guide.PROVIDER).json()
    admin.post(f"{PROVIDERS}/{openai['id']}/models", json=guide.MODEL | {"isDefault": True})
    admin.post(f"{PROVIDERS}/{openai['id']}/models", json=guide.MODEL | {"identifier": "gpt-3", "status": "deprecated"})
    oauth = admin.post(PROVIDERS, json=OAUTH).json()
    admin.post(
        f"{PROVIDERS}/{oauth['id']}/models", json=guide.MODEL | {"identifier": "corp/llm:1", "pricingInfo": None}
    )
    assert admin.post("/api/admin/provider-templates", json=TEMPLATE).status_code == 201


@pytest.fixture
def second(tmp_path: Path) -> Iterator[TestClient]:
    """Another, empty instance: its own database and its own secret key."""
    with TestClient(create_app(make_settings(tmp_path / "second"))) as client:
        client.headers["Authorization"] = f"Bearer {login(client)['token']}"
        yield client


# --- atomicity -------------------------------------------------------------------------------------------------------


def test_a_file_whose_last_entry_is_invalid_writes_nothing(admin: TestClient) -> None:
    before = _revision(admin)
    document = {
        "data": {
            "providers": [guide.PROVIDER, guide.ANTHROPIC],
            "models": [guide.MODEL | {"providerIdentifier": "custom-openai"}],
            "templates": [TEMPLATE, {"name": "Broken", "defaultModels": [guide.MODEL | {"contextLength": -1}]}],
        }
    }

    response = admin.post(IMPORT, json=document)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["error"]["validationErrors"]] == [
        "data.templates.1.providerConfig",
        "data.templates.1.defaultModels.0.contextLength",
    ]
    assert _count(admin) == (0, 0, 0)
    assert _revision(admin) == before


def test_a_failure_while_writing_rolls_the_whole_import_back(
    admin: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(admin)
    before, counts = _revision(admin), _count(admin)
    audit_before = admin.get("/api/admin/audit-log").json()["pagination"]["total"]
    document = admin.post(EXPORT, json={"includeTemplates": True}).json()
    document["data"]["providers"].append(guide.ANTHROPIC)
    document["data"]["templates"].append({"name": "Last", "providerConfig": {"apiEndpoint": "https://x.example"}})

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")  # after every provider and model of the file was written

    monkeypatch.setattr(templates, "create_row", fail)
    response = admin.post(IMPORT, json=document)

    assert response.status_code == 500
    assert _count(admin) == counts
    assert _revision(admin) == before
    assert admin.get("/api/admin/audit-log").json()["pagination"]["total"] == audit_before


# --- conflict modes --------------------------------------------------------------------------------------------------


def _exported(admin: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = admin.post(EXPORT, json={"includeTemplates": True}).json()
    return body


def _import(admin: TestClient, document: dict[str, Any], mode: str, **options: Any) -> dict[str, Any]:
    response = admin.post(IMPORT, json=document | {"options": {"conflictResolution": mode, **options}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _edit(document: dict[str, Any]) -> dict[str, Any]:
    """Every kind changed, one field left out of each, and one new entry of each kind."""
    edited = copy.deepcopy(document)
    provider, model, template = (
        edited["data"]["providers"][0],
        edited["data"]["models"][0],
        edited["data"]["templates"][0],
    )
    provider["name"], model["name"] = "P2", "M2"
    template["description"] = None
    for entry, name in ((provider, "description"), (model, "description"), (model, "pricingInfo")):
        entry.pop(name, None)  # a field without a value is already absent
    template.pop("defaultModels")
    edited["data"]["providers"].append(guide.ANTHROPIC)
    edited["data"]["models"].append(guide.MODEL | {"identifier": "new-model", "providerIdentifier": "my-anthropic"})
    edited["data"]["templates"].append({"name": "New", "providerConfig": {"apiEndpoint": "https://n.example"}})
    return edited


def _stored(admin: TestClient) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    document = _exported(admin)
    provider = next(p for p in document["data"]["providers"] if p["identifier"] == "corp-oauth")
    model = next(m for m in document["data"]["models"] if m["identifier"] == "corp/llm:1")
    template = next(t for t in document["data"]["templates"] if t["name"] == "Corp template")
    return provider, model, template


def test_merge_updates_what_is_sent_and_keeps_what_is_left_out(admin: TestClient) -> None:
    _seed(admin)
    original = _stored(admin)
    document = {"data": {"providers": [original[0]], "models": [original[1]], "templates": [original[2]]}}

    result = _import(admin, _edit(document), "merge")

    provider, model, template = _stored(admin)
    assert result["summary"] == {
        "providersImported": 2,
        "modelsImported": 2,
        "templatesImported": 2,
        "conflicts": 3,
        "errors": 0,
    }
    assert (provider["name"], model["name"]) == ("P2", "M2")
    assert model.get("pricingInfo") == original[1].get("pricingInfo")
    assert template["defaultModels"] == original[2]["defaultModels"]
    assert "description" not in template  # no value: left out, never null


def test_replace_overwrites_matched_entries_whole(admin: TestClient) -> None:
    _seed(admin)
    original = _stored(admin)
    document = {"data": {"providers": [original[0]], "models": [original[1]], "templates": [original[2]]}}

    result = _import(admin, _edit(document), "replace")

    provider, model, template = _stored(admin)
    assert result["summary"]["conflicts"] == 3
    assert (provider["name"], provider.get("description")) == ("P2", None)
    assert (model["name"], model.get("description"), model.get("pricingInfo")) == ("M2", None, None)
    assert template["defaultModels"] == []
    # The file's redacted secrets kept the stored ones, even when replacing.
    assert provider["authConfig"]["fieldFingerprints"] == original[0]["authConfig"]["fieldFingerprints"]


def test_skip_adds_only_new_identifiers(admin: TestClient) -> None:
    _seed(admin)
    original = _stored(admin)
    document = {"data": {"providers": [original[0]], "models": [original[1]], "templates": [original[2]]}}

    result = _import(admin, _edit(document), "skip")

    assert _stored(admin) == original
    assert result["summary"]["providersImported"] == result["summary"]["modelsImported"] == 1
    assert result["summary"]["templatesImported"] == 1
    assert sorted((d["type"], d["action"]) for d in result["details"]) == [
        ("model", "created"),
        ("model", "skipped"),
        ("provider", "created"),
        ("provider", "skipped"),
        ("template", "created"),
        ("template", "skipped"),
    ]


@pytest.mark.parametrize("mode", ["merge", "replace", "skip"])
def test_validate_only_reports_and_writes_nothing_in_every_mode(admin: TestClient, mode: str) -> None:
    _seed(admin)
    original, before, counts = _stored(admin), _revision(admin), _count(admin)
    document = {"data": {"providers": [original[0]], "models": [original[1]], "templates": [original[2]]}}

    result = _import(admin, _edit(document), mode, validateOnly=True)

    assert result["summary"]["providersImported"] >= 1
    assert (_stored(admin), _revision(admin), _count(admin)) == (original, before, counts)


def test_models_map_to_providers_through_provider_identifier(admin: TestClient) -> None:
    admin.post(PROVIDERS, json=guide.PROVIDER)
    admin.post(PROVIDERS, json=guide.ANTHROPIC)
    model = guide.MODEL | {"providerIdentifier": "my-anthropic", "providerId": "an-id-from-elsewhere"}

    result = admin.post(IMPORT, json={"data": {"models": [model]}})

    assert result.status_code == 200, result.text
    exported = admin.post(EXPORT).json()["data"]["models"]
    assert [(m["providerIdentifier"], m["identifier"]) for m in exported] == [("my-anthropic", "gpt-4")]


# --- secrets ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_a_redacted_secret_keeps_the_stored_value(admin: TestClient, mode: str) -> None:
    _seed(admin)
    redacted = _exported(admin)
    assert redacted["data"]["providers"][0]["authConfig"]["fields"]["clientSecret"] == "[REDACTED]"

    _import(admin, redacted, mode)

    backup = admin.post(EXPORT, json={"includeSecrets": True, "includeTemplates": True}).json()
    fields = {p["identifier"]: p["authConfig"]["fields"] for p in backup["data"]["providers"]}
    assert fields["corp-oauth"]["clientSecret"] == "oauth-secret-1"
    assert fields["custom-openai"]["apiKey"] == "sk-your-api-key-here"
    template = backup["data"]["templates"][0]["providerConfig"]["authConfig"]["fields"]
    assert template["apiKey"] == "template-secret-1"


@pytest.mark.parametrize("secret", ["[REDACTED]", None])
def test_a_new_provider_without_its_secret_is_refused_by_name(admin: TestClient, secret: str | None) -> None:
    missing = copy.deepcopy(OAUTH)
    if secret is None:
        del missing["authConfig"]["fields"]["clientSecret"]
    else:
        missing["authConfig"]["fields"]["clientSecret"] = secret
    before = _revision(admin)

    response = admin.post(IMPORT, json={"data": {"providers": [guide.PROVIDER, missing]}})

    assert response.status_code == 422
    errors = {e["field"]: e for e in response.json()["error"]["validationErrors"]}
    error = errors["data.providers.1.authConfig.fields.clientSecret"]
    assert error["message"] == "provider 'corp-oauth': clientSecret is required for oauth2 authentication"
    assert all(field.startswith("data.providers.1.") for field in errors)  # the valid first entry has none
    if secret is not None:
        assert "includeSecrets" in error["suggestion"]
    assert _count(admin) == (0, 0, 0)
    assert _revision(admin) == before


# --- the full backup -------------------------------------------------------------------------------------------------


def test_include_secrets_is_for_admins_only(client: TestClient) -> None:
    context: AppContext = client.app.state.context  # type: ignore[attr-defined]
    with context.db.write() as session:
        users.create_user(session, username="viewer", password="viewer-password-1", role="user")
    token = login(client, "viewer", "viewer-password-1")["token"]

    response = client.post(EXPORT, json={"includeSecrets": True}, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"


def test_include_secrets_is_audited_and_not_cached(admin: TestClient) -> None:
    _seed(admin)

    backup = admin.post(EXPORT, json={"includeSecrets": True}, headers={"X-Request-ID": "backup-1"})
    plain = admin.post(EXPORT)

    assert backup.headers["Cache-Control"] == "no-store"
    assert "no-store" not in plain.headers.get("Cache-Control", "")
    entries = admin.get("/api/admin/audit-log", params={"action": "export"}).json()["data"]
    assert len(entries) == 1
    assert entries[0] | {"id": None, "timestamp": None} == {
        "id": None,
        "timestamp": None,
        "username": "admin",
        "action": "export",
        "resourceType": "registry",
        "requestId": "backup-1",
        "details": {"includeSecrets": True, "providers": 2, "templates": 0},
    }


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    """An export without what differs between instances by design: ids, timestamps, etags, fingerprints' salts."""
    volatile = {"id", "providerId", "createdAt", "updatedAt", "etag", "createdBy", "lastTested", "testResult"}

    def clean(item: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in item.items() if k not in volatile}
        for holder in (out, out.get("providerConfig") or {}):
            if "authConfig" in holder:
                holder["authConfig"] = {k: v for k, v in holder["authConfig"].items() if k != "fieldFingerprints"}
        return out

    return {kind: [clean(item) for item in items] for kind, items in document["data"].items()}


def test_a_full_backup_restores_everything_into_an_empty_instance(admin: TestClient, second: TestClient) -> None:
    _seed(admin)
    backup = admin.post(EXPORT, json={"includeSecrets": True, "includeTemplates": True})
    assert backup.status_code == 200

    restored = second.post(IMPORT, content=backup.content, headers={"Content-Type": "application/json"})

    assert restored.status_code == 200, restored.text
    assert restored.json()["summary"] == {
        "providersImported": 2,
        "modelsImported": 3,
        "templatesImported": 1,
        "conflicts": 0,
        "errors": 0,
    }
    source, copy_ = (c.post(EXPORT, json={"includeTemplates": True}).json() for c in (admin, second))
    assert _comparable(copy_) == _comparable(source)
    # The secrets survived, although the second instance encrypts with another key: its own fingerprints match
    # the original values, and its own decrypting backup gives them back.
    fingerprints = {p["identifier"]: p["authConfig"]["fieldFingerprints"] for p in copy_["data"]["providers"]}
    assert fingerprint_matches(fingerprints["custom-openai"]["apiKey"], "sk-your-api-key-here")
    assert fingerprint_matches(fingerprints["corp-oauth"]["clientSecret"], "oauth-secret-1")
    second_backup = second.post(EXPORT, json={"includeSecrets": True, "includeTemplates": True}).json()
    assert _comparable(second_backup) == _comparable(backup.json())
    template = second_backup["data"]["templates"][0]["providerConfig"]["authConfig"]["fields"]
    assert template == {"apiKey": "template-secret-1"}
    status = second.get(STATUS).json()
    assert (status["providersLoaded"], status["modelsLoaded"]) == (1, 1)  # corp-oauth is inactive, gpt-3 deprecated
