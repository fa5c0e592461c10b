"""The integration guide's workflows, step by step, with its exact request bodies and error examples."""

from __future__ import annotations

import copy

from click.testing import CliRunner
from starlette.testclient import TestClient

from dpm_server import Settings
from dpm_server.cli import users
from tests.server import guide
from tests.server.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login
from tests.server.outbound.fake_provider import MODELS, FakeProvider


def test_login_as_admin_email_returns_the_guide_shape(client: TestClient) -> None:
    response = client.post("/api/auth/login", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "refreshToken", "user", "expiresIn"}
    assert body["user"]["username"] == "admin"
    assert body["user"]["role"] == "admin"
    assert body["expiresIn"] == 3600


def test_setting_up_a_new_provider(allowed_admin: TestClient, fake_provider: FakeProvider) -> None:
    admin = allowed_admin  # the guide's provider, pointed at the fake provider the allow-list admits
    created = admin.post("/api/admin/providers", json=guide.PROVIDER | {"apiEndpoint": f"{fake_provider.url}/v1"})
    assert created.status_code == 201, created.text
    provider = created.json()
    assert provider["identifier"] == "custom-openai"
    assert provider["authConfig"]["fields"]["apiKey"] == "[REDACTED]"
    assert provider["authConfig"]["fieldFingerprints"]["apiKey"].startswith("sha256:")

    tested = admin.post(f"/api/admin/providers/{provider['id']}/test")
    assert tested.status_code == 200
    result = tested.json()
    assert result["success"] is True, result
    assert result["availableModels"] == MODELS
    assert result["errors"] == []
    assert fake_provider.seen[-1].headers["authorization"] == "Bearer sk-your-api-key-here"

    model = admin.post(f"/api/admin/providers/{provider['id']}/models", json=guide.MODEL)
    assert model.status_code == 201, model.text
    assert model.json()["providerId"] == provider["id"]

    model_test = admin.post(f"/api/admin/models/{model.json()['id']}/test")
    assert model_test.status_code == 200
    assert model_test.json()["success"] is True, model_test.json()
    assert set(model_test.json()) >= {"success", "responseTime", "errors", "testedAt"}
    assert fake_provider.seen[-1].body == {
        "model": "gpt-4",
        "max_tokens": 1,
        "messages": [{"role": "user", "content": "Reply with one word."}],
    }


def test_the_javascript_example_provider_is_accepted(admin: TestClient) -> None:
    created = admin.post("/api/admin/providers", json=guide.ANTHROPIC)

    assert created.status_code == 201, created.text


def test_using_provider_templates(admin: TestClient) -> None:
    templates = admin.get("/api/admin/provider-templates")
    assert templates.status_code == 200
    openai = next(t for t in templates.json() if t["id"] == "openai-template")

    applied = admin.post(f"/api/admin/provider-templates/{openai['id']}/apply", json=guide.APPLY)

    assert applied.status_code == 201, applied.text
    provider = applied.json()
    assert provider["identifier"] == "my-openai-provider"
    assert provider["authConfig"]["fields"] == {"apiKey": "[REDACTED]", "organizationId": "org-your-org-id"}
    assert provider["modelCount"] == len(openai["defaultModels"])


def test_export_piped_into_import(admin: TestClient) -> None:
    provider = admin.post("/api/admin/providers", json=guide.PROVIDER).json()
    admin.post(f"/api/admin/providers/{provider['id']}/models", json=guide.MODEL)

    exported = admin.post("/api/admin/providers/export", json=guide.EXPORT)
    assert exported.status_code == 200
    backup = exported.content

    imported = admin.post("/api/admin/providers/import", content=backup, headers={"Content-Type": "application/json"})

    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert result["success"] is True
    assert result["summary"]["providersImported"] == 1
    assert result["summary"]["modelsImported"] == 1
    assert result["summary"]["conflicts"] == 2
    after = admin.get(f"/api/admin/providers/{provider['id']}").json()
    assert after["authConfig"]["fieldFingerprints"] == provider["authConfig"]["fieldFingerprints"]


def test_registry_status_and_refresh(admin: TestClient) -> None:
    provider = admin.post("/api/admin/providers", json=guide.PROVIDER).json()
    admin.post(f"/api/admin/providers/{provider['id']}/models", json=guide.MODEL)

    status = admin.get("/api/admin/providers/registry-status")
    refreshed = admin.post("/api/admin/providers/refresh-registry")

    assert status.status_code == 200
    assert status.json()["status"] == "healthy"
    assert status.json()["providersLoaded"] == 1
    assert status.json()["modelsLoaded"] == 1
    assert refreshed.status_code == 200
    assert refreshed.json()["message"] == "Provider registry refreshed successfully"
    assert refreshed.json()["providersLoaded"] == 1


def test_400_example_bad_identifier(admin: TestClient) -> None:
    body = copy.deepcopy(guide.PROVIDER) | {"identifier": "Custom_OpenAI"}

    response = admin.post("/api/admin/providers", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error == {
        "code": "INVALID_INPUT",
        "message": "Provider identifier must be lowercase alphanumeric with hyphens only",
        "field": "identifier",
        "suggestions": ["Use format: my-provider-name"],
    }
    assert response.json()["requestId"] == response.headers["X-Request-ID"]
    assert response.json()["timestamp"].endswith("Z")


def test_401_example(client: TestClient) -> None:
    response = client.get("/api/admin/providers", headers={"Authorization": "Bearer not-a-jwt"})

    assert response.status_code == 401
    assert response.json()["error"] == {"code": "UNAUTHORIZED", "message": "Invalid or expired JWT token"}


def test_403_example(client: TestClient, settings: Settings) -> None:
    added = CliRunner().invoke(
        users,
        ["add", "viewer", "--role", "user"],
        input="viewer-password\n",
        env={"DPM_SERVER_DATABASE_URL": settings.resolved_database_url},
    )
    assert added.exit_code == 0, added.output
    token = login(client, "viewer", "viewer-password")["token"]

    response = client.get("/api/admin/providers", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "INSUFFICIENT_PERMISSIONS",
        "message": "Admin role required for provider management",
    }


def test_422_example_missing_api_key(admin: TestClient) -> None:
    body = copy.deepcopy(guide.PROVIDER)
    body["authConfig"]["fields"] = {}
    body["authConfig"]["headers"] = {}

    response = admin.post("/api/admin/providers", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["message"] == "Validation failed"
    assert {
        "field": "authConfig.fields.apiKey",
        "message": "API key is required for api_key authentication",
        "value": None,
    }.items() <= response.json()["error"]["validationErrors"][0].items()
