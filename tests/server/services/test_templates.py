"""Templates: the eight system templates, immutability, custom CRUD, and apply through the shared definition."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from dpm.resources.templates import apply_template, find_system_template
from tests.server import guide

TEMPLATES = "/api/admin/provider-templates"
SLUGS = {
    "openai-template",
    "anthropic-template",
    "azure-openai-template",
    "google-gemini-template",
    "mistral-template",
    "cohere-template",
    "ai21-template",
    "ollama-template",
}
CUSTOM: dict[str, Any] = {
    "name": "Team OpenAI",
    "description": "OpenAI with our defaults",
    "providerConfig": {
        "apiEndpoint": "https://api.openai.com/v1",
        "authMethod": "api_key",
        "authConfig": {"type": "api_key", "fields": {}, "headers": {"Authorization": "Bearer {{apiKey}}"}},
        "capabilities": guide.PROVIDER["capabilities"],
    },
    "defaultModels": [guide.MODEL],
}


def test_the_eight_system_templates_are_seeded(admin: TestClient) -> None:
    templates = admin.get(TEMPLATES, params={"isSystem": "true"}).json()

    assert {t["id"] for t in templates} == SLUGS
    assert all(t["isSystem"] and t["defaultModels"] for t in templates)


def test_system_templates_are_immutable(admin: TestClient) -> None:
    put = admin.put(f"{TEMPLATES}/openai-template", json={"description": "mine now"})
    delete = admin.delete(f"{TEMPLATES}/openai-template")

    assert put.status_code == delete.status_code == 400
    assert put.json()["error"]["code"] == "SYSTEM_RESOURCE"


def test_custom_template_crud(admin: TestClient) -> None:
    created = admin.post(TEMPLATES, json=CUSTOM)
    assert created.status_code == 201, created.text
    template = created.json()
    url = f"{TEMPLATES}/{template['id']}"

    assert admin.post(TEMPLATES, json=CUSTOM).status_code == 409
    assert admin.put(url, json={"description": "changed"}).json()["description"] == "changed"
    assert admin.get(TEMPLATES, params={"isSystem": "false"}).json()[0]["name"] == "Team OpenAI"
    assert admin.delete(url).status_code == 204
    assert admin.get(url).status_code == 404


def test_apply_builds_what_the_shared_definition_builds(admin: TestClient) -> None:
    template = find_system_template("anthropic-template")
    assert template is not None
    expected = apply_template(template, "claude", "Claude", {"apiKey": "sk-ant", "status": "testing"})

    applied = admin.post(
        f"{TEMPLATES}/anthropic-template/apply",
        json={"identifier": "claude", "name": "Claude", "customizations": {"apiKey": "sk-ant", "status": "testing"}},
    ).json()
    models = admin.get(f"/api/admin/providers/{applied['id']}/models").json()

    assert applied["status"] == "testing"
    assert applied["apiEndpoint"] == expected["apiEndpoint"]
    assert applied["capabilities"] == expected["capabilities"]
    assert {m["identifier"] for m in models} == {m["identifier"] for m in expected["models"]}


def test_apply_without_api_key_is_422(admin: TestClient) -> None:
    response = admin.post(f"{TEMPLATES}/openai-template/apply", json={"identifier": "x-openai", "name": "X"})

    assert response.status_code == 422
    assert response.json()["error"]["validationErrors"][0]["field"] == "authConfig.fields.apiKey"


def test_apply_twice_is_409_and_unknown_template_404(admin: TestClient) -> None:
    assert admin.post(f"{TEMPLATES}/openai-template/apply", json=guide.APPLY).status_code == 201
    assert admin.post(f"{TEMPLATES}/openai-template/apply", json=guide.APPLY).status_code == 409
    assert admin.post(f"{TEMPLATES}/nope/apply", json=guide.APPLY).status_code == 404


def test_apply_custom_template_with_a_stored_secret(admin: TestClient) -> None:
    body = {**CUSTOM, "providerConfig": {**CUSTOM["providerConfig"]}}
    body["providerConfig"]["authConfig"] = CUSTOM["providerConfig"]["authConfig"] | {"fields": {"apiKey": "sk-team"}}
    template = admin.post(TEMPLATES, json=body).json()
    assert template["providerConfig"]["authConfig"]["fields"]["apiKey"] == "[REDACTED]"

    applied = admin.post(f"{TEMPLATES}/{template['id']}/apply", json={"identifier": "team", "name": "Team"})

    assert applied.status_code == 201, applied.text
    assert applied.json()["authConfig"]["fieldFingerprints"]["apiKey"].startswith("sha256:")
