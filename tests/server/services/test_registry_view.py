"""The registry view: what moves the revision (every committed change, nothing else), when the view reloads,
the refresh route, and health and performance from the stored connectivity results."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from starlette.testclient import TestClient

from dpm_server.context import AppContext
from dpm_server.db.tables import Model, Provider, utcnow
from tests.server import guide

STATUS, REFRESH = "/api/admin/providers/registry-status", "/api/admin/providers/refresh-registry"
PROVIDERS, TEMPLATES = "/api/admin/providers", "/api/admin/provider-templates"
# Connectivity tests against this endpoint never leave the machine, whatever the outbound guard does.
LOCAL = copy.deepcopy(guide.PROVIDER) | {"apiEndpoint": "http://127.0.0.1:9/v1"}
TEMPLATE: dict[str, Any] = {"name": "Mine", "providerConfig": {"apiEndpoint": "https://example.com/v1"}}


def _revision(admin: TestClient) -> int:
    value: int = admin.get(STATUS).json()["revision"]
    return value


def _context(admin: TestClient) -> AppContext:
    context: AppContext = admin.app.state.context  # type: ignore[attr-defined]
    return context


def _seed(admin: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    provider = admin.post(PROVIDERS, json=LOCAL).json()
    model = admin.post(f"{PROVIDERS}/{provider['id']}/models", json=guide.MODEL).json()
    return provider, model


Step = Callable[[TestClient, dict[str, Any], dict[str, Any]], Any]

MUTATIONS: dict[str, Step] = {
    "provider create": lambda a, p, m: a.post(PROVIDERS, json=guide.ANTHROPIC),
    "provider update": lambda a, p, m: a.put(f"{PROVIDERS}/{p['id']}", json={"name": "Renamed"}),
    "model create": lambda a, p, m: a.post(f"{PROVIDERS}/{p['id']}/models", json=guide.MODEL | {"identifier": "x"}),
    "model update": lambda a, p, m: a.put(f"/api/admin/models/{m['id']}", json={"name": "Renamed"}),
    "model delete": lambda a, p, m: a.delete(f"/api/admin/models/{m['id']}"),
    "template create": lambda a, p, m: a.post(TEMPLATES, json=TEMPLATE),
    "template apply": lambda a, p, m: a.post(f"{TEMPLATES}/openai-template/apply", json=guide.APPLY),
    "import": lambda a, p, m: a.post(f"{PROVIDERS}/import", json={"data": {"providers": [guide.ANTHROPIC]}}),
    "import of an export": lambda a, p, m: a.post(f"{PROVIDERS}/import", json=a.post(f"{PROVIDERS}/export").json()),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_each_committed_change_bumps_the_revision_once(admin: TestClient, name: str) -> None:
    provider, model = _seed(admin)
    before = _revision(admin)

    response = MUTATIONS[name](admin, provider, model)

    assert response.status_code in (200, 201, 204), response.text
    assert _revision(admin) == before + 1


def test_template_update_and_delete_and_provider_delete_bump_the_revision(admin: TestClient) -> None:
    template = admin.post(TEMPLATES, json=TEMPLATE).json()
    provider = admin.post(PROVIDERS, json=LOCAL).json()
    revisions = [_revision(admin)]

    for send in (
        lambda: admin.put(f"{TEMPLATES}/{template['id']}", json={"description": "d"}),
        lambda: admin.delete(f"{TEMPLATES}/{template['id']}"),
        lambda: admin.delete(f"{PROVIDERS}/{provider['id']}"),
    ):
        response = send()
        assert response.status_code in (200, 204), response.text
        revisions.append(_revision(admin))

    assert revisions == list(range(revisions[0], revisions[0] + 4))


NOT_CHANGES: dict[str, Step] = {
    "reads": lambda a, p, m: [
        a.get(PROVIDERS),
        a.get(f"{PROVIDERS}/{p['id']}"),
        a.get(f"{PROVIDERS}/{p['id']}/models"),
        a.get(f"/api/admin/models/{m['id']}"),
        a.get(TEMPLATES),
        a.get("/api/admin/audit-log"),
    ],
    "connectivity tests": lambda a, p, m: [
        a.post(f"{PROVIDERS}/{p['id']}/test"),
        a.post(f"/api/admin/models/{m['id']}/test"),
    ],
    "refresh": lambda a, p, m: a.post(REFRESH),
    "export": lambda a, p, m: a.post(f"{PROVIDERS}/export", json={"includeTemplates": True}),
    "export with secrets": lambda a, p, m: a.post(f"{PROVIDERS}/export", json={"includeSecrets": True}),
    "dry-run import": lambda a, p, m: a.post(
        f"{PROVIDERS}/import", json={"data": {"providers": [guide.ANTHROPIC]}, "options": {"validateOnly": True}}
    ),
    "refused create": lambda a, p, m: a.post(PROVIDERS, json=LOCAL),
    "refused update": lambda a, p, m: a.put(f"{PROVIDERS}/{p['id']}", json={"apiEndpoint": "nope"}),
    "refused delete": lambda a, p, m: a.delete(f"{PROVIDERS}/{p['id']}"),
    "stale If-Match": lambda a, p, m: a.put(f"{PROVIDERS}/{p['id']}", json={"name": "n"}, headers={"If-Match": '"x"'}),
    "unknown id": lambda a, p, m: a.delete("/api/admin/models/no-such-model"),
    "refused import": lambda a, p, m: a.post(f"{PROVIDERS}/import", json={"data": {"models": [guide.MODEL]}}),
}


@pytest.mark.parametrize("name", NOT_CHANGES)
def test_reads_tests_and_refused_writes_leave_the_revision_alone(admin: TestClient, name: str) -> None:
    provider, model = _seed(admin)
    before = _revision(admin)

    NOT_CHANGES[name](admin, provider, model)

    assert _revision(admin) == before


def test_the_revision_is_stored_in_the_database(admin: TestClient) -> None:
    _seed(admin)
    with _context(admin).db.read() as session:
        stored = session.execute(text("SELECT revision FROM registry_state WHERE id = 1")).scalar()

    assert stored == _revision(admin) == 2


def test_the_view_reloads_after_a_change_and_not_otherwise(admin: TestClient) -> None:
    first = admin.get(STATUS).json()
    again = admin.get(STATUS).json()
    admin.post(PROVIDERS, json=LOCAL)
    changed = admin.get(STATUS).json()

    assert again["lastRefresh"] == first["lastRefresh"]  # nothing changed: the same snapshot
    assert changed["lastRefresh"] > first["lastRefresh"]
    assert (first["providersLoaded"], changed["providersLoaded"]) == (0, 1)


def test_the_view_holds_active_providers_and_their_active_models(admin: TestClient) -> None:
    provider, _model = _seed(admin)
    admin.post(f"{PROVIDERS}/{provider['id']}/models", json=guide.MODEL | {"identifier": "old", "status": "inactive"})
    other = admin.post(PROVIDERS, json=guide.ANTHROPIC | {"status": "inactive"}).json()
    admin.post(f"{PROVIDERS}/{other['id']}/models", json=guide.MODEL)

    status = admin.get(STATUS).json()

    assert (status["providersLoaded"], status["modelsLoaded"]) == (1, 1)


def test_refresh_reloads_now_and_answers_the_counts(admin: TestClient) -> None:
    _seed(admin)
    before = admin.get(STATUS).json()["lastRefresh"]

    response = admin.post(REFRESH)

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"message", "providersLoaded", "modelsLoaded", "refreshedAt"}
    assert (body["providersLoaded"], body["modelsLoaded"]) == (1, 1)
    assert body["refreshedAt"] > before
    assert body["refreshedAt"].endswith("Z")
    assert admin.get(STATUS).json()["lastRefresh"] == body["refreshedAt"]


def test_status_shape(admin: TestClient) -> None:
    status = admin.get(STATUS).json()

    assert set(status) == {
        "status",
        "providersLoaded",
        "modelsLoaded",
        "lastRefresh",
        "errors",
        "performance",
        "revision",
    }
    assert status["status"] == "healthy"
    assert status["errors"] == []
    assert status["performance"] == {"averageResponseTime": 0, "successRate": 1.0}


def _store_result(
    admin: TestClient, table: type[Provider] | type[Model], ident: str, *, ok: bool, ms: int, age_h: int = 0
) -> None:
    tested = utcnow() - timedelta(hours=age_h)
    result = {"success": ok, "responseTime": ms, "errors": [] if ok else ["HTTP 401"], "testedAt": "x"}
    with _context(admin).db.write() as session:
        session.execute(update(table).where(table.id == ident).values(test_result=result, last_tested=tested))


def test_performance_comes_from_recent_stored_results_of_providers_and_models(admin: TestClient) -> None:
    provider, model = _seed(admin)
    other = admin.post(PROVIDERS, json=guide.ANTHROPIC).json()
    idle = admin.post(PROVIDERS, json=guide.ANTHROPIC | {"identifier": "idle", "status": "inactive"}).json()
    old = admin.post(PROVIDERS, json=guide.ANTHROPIC | {"identifier": "old"}).json()
    _store_result(admin, Provider, provider["id"], ok=True, ms=100)
    _store_result(admin, Model, model["id"], ok=True, ms=300)
    _store_result(admin, Provider, other["id"], ok=False, ms=200)
    _store_result(admin, Provider, idle["id"], ok=False, ms=9000)  # inactive: not routed to, not counted
    _store_result(admin, Provider, old["id"], ok=False, ms=9000, age_h=48)  # too old to count

    status = admin.get(STATUS).json()

    assert status["performance"] == {"averageResponseTime": 200, "successRate": 0.6667}
    assert status["status"] == "degraded"


def test_all_recent_tests_passing_is_healthy(admin: TestClient) -> None:
    provider, model = _seed(admin)
    _store_result(admin, Provider, provider["id"], ok=True, ms=120)
    _store_result(admin, Model, model["id"], ok=True, ms=80)

    status = admin.get(STATUS).json()

    assert status["status"] == "healthy"
    assert status["performance"] == {"averageResponseTime": 100, "successRate": 1.0}


def test_a_view_that_cannot_load_reports_error(admin: TestClient) -> None:
    _seed(admin)
    with _context(admin).db.write() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("PRAGMA foreign_keys=OFF"))
        session.execute(text("ALTER TABLE models RENAME TO models_away"))
    admin.post(PROVIDERS, json=guide.ANTHROPIC)  # a change, so that the view reloads

    status = admin.get(STATUS).json()

    assert status["status"] == "error"
    assert status["errors"][0].startswith("registry load failed")
    assert status["revision"] == 3
