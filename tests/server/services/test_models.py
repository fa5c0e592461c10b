"""Models: checked against their provider, one default at a time, unique per provider."""

from __future__ import annotations

import copy
from typing import Any

from starlette.testclient import TestClient

from tests.server import guide


def _provider(admin: TestClient) -> str:
    return str(admin.post("/api/admin/providers", json=guide.PROVIDER).json()["id"])


def _model(admin: TestClient, provider_id: str, **changes: Any) -> Any:
    return admin.post(f"/api/admin/providers/{provider_id}/models", json=copy.deepcopy(guide.MODEL) | changes)


def test_context_length_above_provider_maximum_is_422(admin: TestClient) -> None:
    provider_id = _provider(admin)
    created = _model(admin, provider_id).json()

    on_create = _model(admin, provider_id, identifier="big", contextLength=128001)
    on_update = admin.put(f"/api/admin/models/{created['id']}", json={"contextLength": 200000})

    for response in (on_create, on_update):
        assert response.status_code == 422
        assert response.json()["error"]["validationErrors"][0]["field"] == "contextLength"


def test_is_default_clears_the_others(admin: TestClient) -> None:
    provider_id = _provider(admin)
    first = _model(admin, provider_id, isDefault=True).json()

    _model(admin, provider_id, identifier="gpt-4o", isDefault=True)

    assert admin.get(f"/api/admin/models/{first['id']}").json()["isDefault"] is False
    defaults = [
        m["identifier"] for m in admin.get(f"/api/admin/providers/{provider_id}/models").json() if m["isDefault"]
    ]
    assert defaults == ["gpt-4o"]


def test_duplicate_model_is_409_and_unknown_provider_404(admin: TestClient) -> None:
    provider_id = _provider(admin)
    _model(admin, provider_id)

    assert _model(admin, provider_id).status_code == 409
    assert _model(admin, "missing").status_code == 404


def test_list_filters_by_status_and_delete(admin: TestClient) -> None:
    provider_id = _provider(admin)
    model = _model(admin, provider_id).json()
    admin.put(f"/api/admin/models/{model['id']}", json={"status": "deprecated"})

    listed = admin.get(f"/api/admin/providers/{provider_id}/models", params={"status": "deprecated"}).json()

    assert [m["identifier"] for m in listed] == ["gpt-4"]
    assert admin.delete(f"/api/admin/models/{model['id']}").status_code == 204
    assert admin.delete(f"/api/admin/providers/{provider_id}").status_code == 204


def test_function_calling_capability_is_required(admin: TestClient) -> None:
    body = copy.deepcopy(guide.MODEL)
    del body["capabilities"]["supportsFunctionCalling"]

    response = admin.post(f"/api/admin/providers/{_provider(admin)}/models", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["validationErrors"][0]["field"] == "capabilities.supportsFunctionCalling"


def test_huge_context_length_is_422_not_500(admin: TestClient) -> None:
    provider_id = _provider(admin)
    admin.put(
        f"/api/admin/providers/{provider_id}",
        json={"capabilities": guide.PROVIDER["capabilities"] | {"maxContextLength": 2**40}},
    )

    response = _model(admin, provider_id, contextLength=2**35)

    assert response.status_code == 422
