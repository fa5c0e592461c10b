"""The audit log: every admin mutation, with who, what, when, the resource and the request id; never a secret;
written with the change or not at all; paged and filtered at GET /api/admin/audit-log."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from dpm_server.auth import users
from dpm_server.context import AppContext
from dpm_server.db.tables import AuditEntry
from dpm_server.services import providers
from tests.server import guide
from tests.server.conftest import login

AUDIT, PROVIDERS, TEMPLATES = "/api/admin/audit-log", "/api/admin/providers", "/api/admin/provider-templates"
CANARY = "sk-audit-canary-4b9e2d71c0a3f5e8"


def _entries(admin: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = admin.get(AUDIT, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def _context(client: TestClient) -> AppContext:
    context: AppContext = client.app.state.context  # type: ignore[attr-defined]
    return context


def _secret_provider(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(guide.PROVIDER) | changes
    body["authConfig"]["fields"] = {"apiKey": CANARY, "orgToken": CANARY}
    return body


def _every_mutation(admin: TestClient) -> dict[str, str]:
    """Makes each kind of admin mutation once, each with its own request id; returns the ids by step."""
    ids: dict[str, str] = {}

    def send(step: str, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        ids[step] = f"req-{step}"
        response = admin.request(method, url, headers={"X-Request-ID": ids[step]}, **kwargs)
        assert response.status_code < 300, response.text
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    provider = send("provider-create", "POST", PROVIDERS, json=_secret_provider())
    send(
        "provider-update", "PUT", f"{PROVIDERS}/{provider['id']}", json={"authConfig": _secret_provider()["authConfig"]}
    )
    model = send("model-create", "POST", f"{PROVIDERS}/{provider['id']}/models", json=guide.MODEL)
    send("model-update", "PUT", f"/api/admin/models/{model['id']}", json={"name": "GPT-4 (old)"})
    send("model-delete", "DELETE", f"/api/admin/models/{model['id']}")
    send("provider-delete", "DELETE", f"{PROVIDERS}/{provider['id']}")
    template = {"name": "Mine", "providerConfig": {"apiEndpoint": "https://t.example/v1", "authConfig": {
        "type": "api_key", "fields": {"apiKey": CANARY}, "headers": {}}}}  # fmt: skip
    created = send("template-create", "POST", TEMPLATES, json=template)
    send("template-update", "PUT", f"{TEMPLATES}/{created['id']}", json={"description": "d"})
    send("template-delete", "DELETE", f"{TEMPLATES}/{created['id']}")
    apply = guide.APPLY | {"customizations": {"apiKey": CANARY}}
    send("template-apply", "POST", f"{TEMPLATES}/openai-template/apply", json=apply)
    send("import", "POST", f"{PROVIDERS}/import", json={"data": {"providers": [_secret_provider(identifier="imp")]}})
    send("export", "POST", f"{PROVIDERS}/export", json={"includeSecrets": True})
    send("refresh", "POST", f"{PROVIDERS}/refresh-registry")
    return ids


def test_every_admin_mutation_is_recorded(admin: TestClient) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    ids = _every_mutation(admin)

    entries = list(reversed(_entries(admin)))  # oldest first, to read along the steps

    seen = [(e["requestId"], e["action"], e["resourceType"], e.get("resourceIdentifier")) for e in entries]
    assert seen == [
        (ids["provider-create"], "create", "provider", "custom-openai"),
        (ids["provider-update"], "update", "provider", "custom-openai"),
        (ids["model-create"], "create", "model", "gpt-4"),
        (ids["model-update"], "update", "model", "gpt-4"),
        (ids["model-delete"], "delete", "model", "gpt-4"),
        (ids["provider-delete"], "delete", "provider", "custom-openai"),
        (ids["template-create"], "create", "template", "Mine"),
        (ids["template-update"], "update", "template", "Mine"),
        (ids["template-delete"], "delete", "template", "Mine"),
        (ids["template-apply"], "apply", "template", "OpenAI"),
        (ids["template-apply"], "create", "provider", "my-openai-provider"),
        (ids["import"], "import", "registry", None),
        (ids["import"], "create", "provider", "imp"),
        (ids["export"], "export", "registry", None),
        (ids["refresh"], "refresh", "registry", None),
    ]
    assert {e["username"] for e in entries} == {"admin"}
    for entry in entries:
        when = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
        assert started <= when <= datetime.now(UTC)
        assert entry["timestamp"].endswith("Z")
    by_step = {(e["requestId"], e["action"]): e for e in entries}
    assert by_step[ids["model-delete"], "delete"]["details"] == {"providerIdentifier": "custom-openai"}
    assert by_step[ids["template-apply"], "apply"]["resourceId"] == "openai-template"
    assert by_step[ids["template-apply"], "apply"]["details"]["providerIdentifier"] == "my-openai-provider"
    assert by_step[ids["import"], "import"]["details"] == {
        "conflictResolution": "merge",
        "providersImported": 1,
        "modelsImported": 0,
        "templatesImported": 0,
        "conflicts": 0,
        "errors": 0,
    }
    assert all(e["resourceId"] for e in entries if e["resourceType"] != "registry")


def test_no_secret_reaches_the_audit_log(admin: TestClient) -> None:
    _every_mutation(admin)
    with _context(admin).db.read() as session:
        rows = session.scalars(select(AuditEntry)).all()
        stored = json.dumps([[getattr(row, c.key) for c in AuditEntry.__table__.columns] for row in rows], default=str)

    served = admin.get(AUDIT, params={"limit": 100}).text

    assert len(rows) == 15
    assert CANARY not in stored
    assert CANARY not in served
    assert "[REDACTED]" not in stored  # no field values at all, not even redacted ones


def test_a_refused_or_failed_mutation_leaves_no_entry(admin: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = admin.post(PROVIDERS, json=guide.PROVIDER).json()
    admin.post(f"{PROVIDERS}/{provider['id']}/models", json=guide.MODEL)
    before = len(_entries(admin))

    refused = [
        admin.post(PROVIDERS, json=guide.PROVIDER),  # 409
        admin.delete(f"{PROVIDERS}/{provider['id']}"),  # 409: it has a model
        admin.put(f"{PROVIDERS}/{provider['id']}", json={"name": "x"}, headers={"If-Match": '"stale"'}),  # 412
        admin.delete(f"{PROVIDERS}/no-such-id"),  # 404
        admin.post(f"{PROVIDERS}/import", json={"data": {"providers": [guide.PROVIDER | {"name": ""}]}}),  # 422
        admin.post(
            f"{PROVIDERS}/import", json={"data": {"providers": [guide.ANTHROPIC]}, "options": {"validateOnly": True}}
        ),
        admin.post(f"{PROVIDERS}/export"),  # without secrets: a read
        admin.delete(f"{TEMPLATES}/openai-template"),  # system template
    ]

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("lost the disk after the audit entry was added")

    monkeypatch.setattr(providers, "delete_provider", fail)
    lost = admin.delete(f"{PROVIDERS}/{provider['id']}")

    assert [r.status_code for r in refused] == [409, 409, 412, 404, 422, 200, 200, 400]
    assert lost.status_code == 500
    assert len(_entries(admin)) == before


def test_newest_first_paged_like_the_providers_list(admin: TestClient) -> None:
    for index in range(5):
        admin.post(TEMPLATES, json={"name": f"T{index}", "providerConfig": {"apiEndpoint": "https://t.example"}})

    first = admin.get(AUDIT, params={"limit": 2}).json()
    last = admin.get(AUDIT, params={"limit": 2, "page": 3}).json()
    default = admin.get(AUDIT).json()

    assert [e["resourceIdentifier"] for e in first["data"]] == ["T4", "T3"]
    assert first["pagination"] == {"page": 1, "limit": 2, "total": 5, "totalPages": 3}
    assert [e["resourceIdentifier"] for e in last["data"]] == ["T0"]
    assert default["pagination"]["limit"] == 20


def test_filters(admin: TestClient) -> None:
    provider = admin.post(PROVIDERS, json=guide.PROVIDER).json()
    admin.put(f"{PROVIDERS}/{provider['id']}", json={"name": "Renamed"})
    admin.post(TEMPLATES, json={"name": "T", "providerConfig": {"apiEndpoint": "https://t.example"}})
    admin.post(f"{PROVIDERS}/refresh-registry")

    assert [e["resourceType"] for e in _entries(admin, action="create")] == ["template", "provider"]
    assert [e["action"] for e in _entries(admin, resourceType="provider")] == ["update", "create"]
    assert len(_entries(admin, resourceId=provider["id"])) == 2
    assert [e["action"] for e in _entries(admin, action="refresh", resourceType="registry")] == ["refresh"]
    assert _entries(admin, username="nobody") == []


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"page": 0}, {"action": "sneeze"}, {"resourceType": "user"}]
)
def test_bad_queries_are_400(admin: TestClient, params: dict[str, Any]) -> None:
    response = admin.get(AUDIT, params=params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_INPUT"


def test_admins_only(client: TestClient) -> None:
    with _context(client).db.write() as session:
        users.create_user(session, username="viewer", password="viewer-password-1", role="user")
    token = login(client, "viewer", "viewer-password-1")["token"]

    anonymous = client.get(AUDIT)
    user = client.get(AUDIT, headers={"Authorization": f"Bearer {token}"})

    assert anonymous.status_code == 401
    assert user.status_code == 403


def test_another_admin_is_named(client: TestClient) -> None:
    with _context(client).db.write() as session:
        users.create_user(session, username="ops", password="ops-password-12", role="admin")
    client.headers["Authorization"] = f"Bearer {login(client, 'ops', 'ops-password-12')['token']}"

    client.post(PROVIDERS, json=guide.PROVIDER)

    assert [e["username"] for e in _entries(client)] == ["ops"]


def test_openapi_declares_the_audit_log(admin: TestClient) -> None:
    document = admin.get("/api/openapi.json").json()
    operation = document["paths"][AUDIT]["get"]

    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/AuditPage"}
    assert {p["name"] for p in operation["parameters"]} >= {"page", "limit", "action", "resourceType"}
    assert {"400", "401", "403"} <= set(operation["responses"])
