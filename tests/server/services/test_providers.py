"""Provider CRUD: status codes, partial PUT, secret keeping, etags, and the delete rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from starlette.testclient import TestClient

from dpm_server.db.tables import Provider
from tests.server import guide

PROVIDERS = "/api/admin/providers"


def _create(admin: TestClient, **changes: Any) -> dict[str, Any]:
    response = admin.post(PROVIDERS, json=copy.deepcopy(guide.PROVIDER) | changes)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_get_and_404(admin: TestClient) -> None:
    provider = _create(admin)

    assert admin.get(f"{PROVIDERS}/{provider['id']}").json() == provider
    missing = admin.get(f"{PROVIDERS}/no-such-id")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"


def test_duplicate_identifier_is_409(admin: TestClient) -> None:
    _create(admin)

    response = admin.post(PROVIDERS, json=guide.PROVIDER)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ALREADY_EXISTS"
    assert response.json()["error"]["field"] == "identifier"


@pytest.mark.parametrize("field", ["id", "isSystem", "createdAt"])
def test_mass_assignment_is_refused(admin: TestClient, field: str) -> None:
    response = admin.post(PROVIDERS, json=guide.PROVIDER | {field: True})

    assert response.status_code == 422
    error = response.json()["error"]["validationErrors"][0]
    assert error["field"] == field
    assert "set by the server" in error["message"]


def test_every_failure_is_listed(admin: TestClient) -> None:
    body = copy.deepcopy(guide.PROVIDER)
    del body["name"]
    body["capabilities"]["maxContextLength"] = "big"
    body["authMethod"] = "kerberos"

    response = admin.post(PROVIDERS, json=body)

    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["error"]["validationErrors"]}
    assert fields == {"name", "capabilities.maxContextLength", "authMethod"}


def test_list_paginates_and_filters(admin: TestClient) -> None:
    for index in range(3):
        _create(admin, identifier=f"p-{index}", name=f"Provider {index}")
    admin.put(f"{PROVIDERS}/{_create(admin, identifier='other', name='Other')['id']}", json={"status": "inactive"})

    page = admin.get(PROVIDERS, params={"page": 2, "limit": 2}).json()
    inactive = admin.get(PROVIDERS, params={"status": "inactive"}).json()
    found = admin.get(PROVIDERS, params={"search": "provider 1"}).json()

    assert page["pagination"] == {"page": 2, "limit": 2, "total": 4, "totalPages": 2}
    assert [p["identifier"] for p in inactive["data"]] == ["other"]
    assert [p["identifier"] for p in found["data"]] == ["p-1"]


@pytest.mark.parametrize("params", [{"page": 0}, {"limit": 101}, {"limit": "ten"}, {"page": -1}])
def test_bad_page_or_limit_is_400(admin: TestClient, params: dict[str, Any]) -> None:
    response = admin.get(PROVIDERS, params=params)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == next(iter(params))


def test_put_is_partial(admin: TestClient) -> None:
    provider = _create(admin)

    response = admin.put(f"{PROVIDERS}/{provider['id']}", json={"name": "Renamed"})

    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == "Renamed"
    assert updated["description"] == provider["description"]
    assert updated["capabilities"] == provider["capabilities"]
    assert updated["etag"] != provider["etag"]


def test_put_redacted_or_omitted_secret_keeps_it(admin: TestClient) -> None:
    provider = _create(admin)
    auth = {"type": "api_key", "fields": {"apiKey": "[REDACTED]"}, "headers": {"Authorization": "Bearer {{apiKey}}"}}

    kept = admin.put(f"{PROVIDERS}/{provider['id']}", json={"authConfig": auth}).json()
    omitted = admin.put(f"{PROVIDERS}/{provider['id']}", json={"authConfig": auth | {"fields": {}}}).json()
    changed = admin.put(
        f"{PROVIDERS}/{provider['id']}", json={"authConfig": auth | {"fields": {"apiKey": "sk-new"}}}
    ).json()

    original = provider["authConfig"]["fieldFingerprints"]["apiKey"]
    assert kept["authConfig"]["fieldFingerprints"]["apiKey"] == original
    assert omitted["authConfig"]["fieldFingerprints"]["apiKey"] == original
    assert omitted["authConfig"]["fields"]["apiKey"] == "[REDACTED]"
    assert changed["authConfig"]["fieldFingerprints"]["apiKey"] != original


def test_put_nested_object_replaces_whole(admin: TestClient) -> None:
    provider = _create(admin)
    capabilities = {k: v for k, v in guide.PROVIDER["capabilities"].items() if k != "supportedAuthMethods"}

    updated = admin.put(f"{PROVIDERS}/{provider['id']}", json={"capabilities": capabilities}).json()

    assert "supportedAuthMethods" not in updated["capabilities"]


def test_put_refuses_identifier_change_and_nulls(admin: TestClient) -> None:
    provider = _create(admin)

    renamed = admin.put(f"{PROVIDERS}/{provider['id']}", json={"identifier": "new-name"})
    nulled = admin.put(f"{PROVIDERS}/{provider['id']}", json={"name": None})

    assert renamed.status_code == 422
    assert renamed.json()["error"]["validationErrors"][0]["message"] == "identifier cannot be changed after creation"
    assert nulled.status_code == 422


def test_if_match(admin: TestClient) -> None:
    provider = _create(admin)
    url = f"{PROVIDERS}/{provider['id']}"

    stale = admin.put(url, json={"name": "A"}, headers={"If-Match": '"stale"'})
    fresh = admin.put(url, json={"name": "B"}, headers={"If-Match": provider["etag"]})
    stale_delete = admin.delete(url, headers={"If-Match": provider["etag"]})

    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "PRECONDITION_FAILED"
    assert fresh.status_code == 200
    assert stale_delete.status_code == 412
    assert admin.delete(url, headers={"If-Match": fresh.json()["etag"]}).status_code == 204


def test_delete_provider_with_models_is_409(admin: TestClient) -> None:
    provider = _create(admin)
    admin.post(f"{PROVIDERS}/{provider['id']}/models", json=guide.MODEL)

    response = admin.delete(f"{PROVIDERS}/{provider['id']}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"
    assert "still has 1 model" in response.json()["error"]["message"]


def test_delete_system_provider_is_refused(admin: TestClient) -> None:
    provider = _create(admin)
    with admin.app.state.context.db.write() as session:  # type: ignore[attr-defined]
        row = session.get(Provider, provider["id"])
        assert row is not None
        row.is_system = True

    response = admin.delete(f"{PROVIDERS}/{provider['id']}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "SYSTEM_RESOURCE"
    assert admin.put(f"{PROVIDERS}/{provider['id']}", json={"name": "Still editable"}).status_code == 200


def test_delete_then_404(admin: TestClient) -> None:
    provider = _create(admin)

    assert admin.delete(f"{PROVIDERS}/{provider['id']}").status_code == 204
    assert admin.get(f"{PROVIDERS}/{provider['id']}").status_code == 404


def test_literal_credential_header_is_refused(admin: TestClient) -> None:
    body = copy.deepcopy(guide.PROVIDER)
    body["authConfig"]["headers"] = {"Authorization": "Bearer sk-literal"}

    response = admin.post(PROVIDERS, json=body)

    assert response.status_code == 422
    assert "sk-literal" not in response.text


def test_max_context_may_not_drop_below_an_existing_model(admin: TestClient) -> None:
    provider = _create(admin)
    created = admin.post(f"{PROVIDERS}/{provider['id']}/models", json=guide.MODEL)
    assert created.status_code == 201, created.text
    capabilities = provider["capabilities"] | {"maxContextLength": 4096}
    refused = admin.put(f"{PROVIDERS}/{provider['id']}", json={"capabilities": capabilities})
    assert refused.status_code == 422
    (error,) = refused.json()["error"]["validationErrors"]
    assert error["field"] == "capabilities.maxContextLength"
    assert "gpt-4 (8192)" in error["message"]
    allowed = admin.put(
        f"{PROVIDERS}/{provider['id']}", json={"capabilities": capabilities | {"maxContextLength": 8192}}
    )
    assert allowed.status_code == 200, allowed.text
