"""``GET /metrics``: off by default, read back with Prometheus's own text parser, label sets by route template and
status, the counters that other modules feed (rate limits, connectivity tests, database errors, the revision), the
optional token, and a canary proving that no identifier, user name, token or secret reaches a scrape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from starlette.testclient import TestClient

from dpm_server import create_app
from tests.server import guide
from tests.server.conftest import ADMIN_EMAIL, login, make_settings
from tests.server.outbound.fake_provider import FakeProvider

FAMILIES = {
    "dpm_http_requests": "counter",
    "dpm_http_request_duration_seconds": "histogram",
    "dpm_rate_limit_refusals": "counter",
    "dpm_connectivity_tests": "counter",
    "dpm_database_errors": "counter",
    "dpm_registry_revision": "gauge",
}
CANARY = "canary-7f3c2a9e"
CANARY_SECRET = "sk-canary-secret-51d0e8"


def scrape(client: TestClient, **headers: str) -> dict[str, Any]:
    """The families of one scrape, by name, parsed by the Prometheus client's own parser."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(families: dict[str, Any], sample_name: str, **labels: str) -> float:
    """The sum of the samples with that name whose labels include ``labels``; 0 when there is none."""
    name = sample_name.removesuffix("_total").removesuffix("_count").removesuffix("_bucket")
    return sum(
        float(sample.value)
        for sample in families[name].samples
        if sample.name == sample_name and labels.items() <= sample.labels.items()
    )


@pytest.fixture
def watched(tmp_path: Path, database_url: str | None) -> Iterator[TestClient]:
    """An admin client of a server with metrics on, whose outbound allow-list admits the fake provider."""
    settings = make_settings(
        tmp_path, database_url=database_url, metrics=True, outbound_allow="127.0.0.1", outbound_timeout=2
    )
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {login(client)['token']}"
        yield client


def test_metrics_are_off_unless_enabled(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_a_scrape_has_every_family_with_route_templates_and_status_codes(watched: TestClient) -> None:
    created = watched.post("/api/admin/providers", json=guide.PROVIDER)
    assert created.status_code == 201
    provider_id = created.json()["id"]
    assert watched.get(f"/api/admin/providers/{provider_id}").status_code == 200
    assert watched.get("/api/admin/providers/no-such-id").status_code == 404
    assert watched.get("/no/such/route").status_code == 404

    families = scrape(watched)

    # Beside each counter and histogram the library exposes its creation time as a "_created" gauge.
    assert {name: f.type for name, f in families.items() if not name.endswith("_created")} == FAMILIES
    requests = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in families["dpm_http_requests"].samples
        if s.name == "dpm_http_requests_total"
    }
    assert requests[("POST", "/api/admin/providers", "201")] == 1
    assert requests[("GET", "/api/admin/providers/{id}", "200")] == 1
    assert requests[("GET", "/api/admin/providers/{id}", "404")] == 1
    assert requests[("GET", "unmatched", "404")] == 1
    assert requests[("POST", "/api/auth/login", "200")] == 1
    histogram = families["dpm_http_request_duration_seconds"]
    assert {s.name for s in histogram.samples} >= {
        "dpm_http_request_duration_seconds_bucket",
        "dpm_http_request_duration_seconds_count",
        "dpm_http_request_duration_seconds_sum",
    }
    labelled = {
        "dpm_http_requests": {"method", "route", "status"},
        "dpm_http_request_duration_seconds": {"method", "route", "status"},
        "dpm_rate_limit_refusals": {"limit"},
        "dpm_connectivity_tests": {"target", "outcome"},
        "dpm_registry_revision": set(),
    }
    for name, labels in labelled.items():
        for sample in families[name].samples:
            assert set(sample.labels) - {"le"} == labels, sample
    assert value(families, "dpm_http_request_duration_seconds_count", route="/api/admin/providers/{id}") == 2
    assert value(families, "dpm_registry_revision") == 1
    refusals = {s.labels["limit"] for s in families["dpm_rate_limit_refusals"].samples}
    assert refusals == {"requests", "logins", "connectivity"}


def test_the_revision_gauge_follows_the_registry(watched: TestClient) -> None:
    assert value(scrape(watched), "dpm_registry_revision") == 0
    provider = watched.post("/api/admin/providers", json=guide.PROVIDER).json()
    watched.post(f"/api/admin/providers/{provider['id']}/models", json=guide.MODEL)

    assert value(scrape(watched), "dpm_registry_revision") == 2


def test_connectivity_outcomes_are_counted(watched: TestClient, fake_provider: FakeProvider) -> None:
    provider = watched.post("/api/admin/providers", json=guide.PROVIDER | {"apiEndpoint": f"{fake_provider.url}/v1"})
    provider_id = provider.json()["id"]
    model = watched.post(f"/api/admin/providers/{provider_id}/models", json=guide.MODEL | {"identifier": "fake-gpt-4"})

    assert watched.post(f"/api/admin/providers/{provider_id}/test").json()["success"] is True
    assert watched.post(f"/api/admin/models/{model.json()['id']}/test").json()["success"] is True
    fake_provider.api_key = "another-key"  # the stored key is now wrong: the test fails, and still answers 200
    assert watched.post(f"/api/admin/providers/{provider_id}/test").json()["success"] is False

    families = scrape(watched)
    assert value(families, "dpm_connectivity_tests_total", target="provider", outcome="success") == 1
    assert value(families, "dpm_connectivity_tests_total", target="provider", outcome="failure") == 1
    assert value(families, "dpm_connectivity_tests_total", target="model", outcome="success") == 1
    assert value(families, "dpm_connectivity_tests_total", target="model", outcome="failure") == 0


def test_rate_limit_refusals_are_counted_under_their_route(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, metrics=True, rate_limit="3/900", login_rate_limit="1/900")
    with TestClient(create_app(settings)) as client:
        statuses = [client.get("/api/admin/providers").status_code for _ in range(3)]
        logins = [
            client.post("/api/auth/login", json={"username": ADMIN_EMAIL, "password": "wrong"}).status_code
            for _ in range(2)
        ]
        families = scrape(client)

    assert statuses == [401, 401, 401]
    assert logins == [429, 429]  # the request budget (3) is spent before the login one is asked
    assert value(families, "dpm_rate_limit_refusals_total", limit="requests") == 2
    assert value(families, "dpm_http_requests_total", route="/api/auth/login", status="429") == 2
    assert value(families, "dpm_http_requests_total", route="/api/admin/providers", status="401") == 3


def test_login_refusals_are_counted_apart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, metrics=True, login_rate_limit="1/900")
    with TestClient(create_app(settings)) as client:
        wrong = {"username": ADMIN_EMAIL, "password": "wrong password"}
        statuses = [client.post("/api/auth/login", json=wrong).status_code for _ in range(3)]
        families = scrape(client)

    assert statuses == [401, 429, 429]
    assert value(families, "dpm_rate_limit_refusals_total", limit="logins") == 2
    assert value(families, "dpm_rate_limit_refusals_total", limit="requests") == 0


def test_database_errors_are_counted_by_class(watched: TestClient) -> None:
    context = watched.app.state.context  # type: ignore[attr-defined]
    with context.db.engine.begin() as connection, pytest.raises(Exception, match="no_such_table"):
        connection.execute(text("SELECT * FROM no_such_table"))

    families = scrape(watched)
    # PostgreSQL names a missing table a ProgrammingError, SQLite an OperationalError.
    assert value(families, "dpm_database_errors_total") == 1
    errors = {sample.labels["error"] for sample in families["dpm_database_errors"].samples}
    assert errors <= {"ProgrammingError", "OperationalError"}


def test_the_token_guards_metrics_when_set(tmp_path: Path) -> None:
    token = "scrape-token-4b1e"
    with TestClient(create_app(make_settings(tmp_path, metrics=True, metrics_token=token))) as client:
        missing = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-it"})
        admin = client.get("/metrics", headers={"Authorization": f"Bearer {login(client)['token']}"})
        families = scrape(client, Authorization=f"Bearer {token}")

    assert [missing.status_code, wrong.status_code, admin.status_code] == [401, 401, 401]
    assert missing.json()["error"]["code"] == "UNAUTHORIZED"
    assert token not in missing.text + wrong.text
    assert "dpm_http_requests" in families


def test_two_apps_in_one_process_count_apart(tmp_path: Path) -> None:
    first = TestClient(create_app(make_settings(tmp_path / "a", metrics=True)))
    second = TestClient(create_app(make_settings(tmp_path / "b", metrics=True)))
    with first, second:
        for _ in range(3):
            first.get("/healthz")

        assert value(scrape(first), "dpm_http_requests_total", route="/healthz") == 3
        assert value(scrape(second), "dpm_http_requests_total", route="/healthz") == 0


def test_no_identifier_user_name_token_or_secret_reaches_a_scrape(watched: TestClient) -> None:
    """Objects named after a canary, the canary in paths, queries, headers and a method: none of it in /metrics."""
    provider = guide.PROVIDER | {
        "identifier": CANARY,
        "name": f"Provider {CANARY}",
        "authConfig": guide.PROVIDER["authConfig"] | {"fields": {"apiKey": CANARY_SECRET}},
    }
    created = watched.post("/api/admin/providers", json=provider).json()
    model = watched.post(
        f"/api/admin/providers/{created['id']}/models", json=guide.MODEL | {"identifier": f"{CANARY}-model"}
    ).json()
    template = watched.post(
        "/api/admin/provider-templates",
        json={"name": f"{CANARY}-template", "description": CANARY, "providerConfig": {}},
    )
    token = str(watched.headers["Authorization"]).removeprefix("Bearer ")
    touched = [
        watched.get(f"/api/admin/providers/{created['id']}"),
        watched.get(f"/api/admin/providers/{CANARY}"),
        watched.get(f"/api/admin/providers/{created['id']}/models"),
        watched.put(f"/api/admin/models/{model['id']}", json={"description": CANARY}),
        watched.get(f"/api/admin/providers?search={CANARY}"),
        watched.get(f"/{CANARY}/{CANARY_SECRET}"),
        watched.request(CANARY.upper().replace("-", ""), f"/api/admin/providers/{CANARY}"),
        watched.post("/api/auth/login", json={"username": CANARY, "password": CANARY_SECRET}),
        watched.get("/api/admin/providers", headers={"X-Request-ID": CANARY, "Authorization": f"Bearer {CANARY}"}),
    ]
    assert all(response.status_code < 500 for response in touched)

    scraped = watched.get("/metrics").text
    forbidden = [CANARY, CANARY_SECRET, created["id"], model["id"], token, ADMIN_EMAIL]
    assert template.status_code == 201, template.text
    forbidden.append(template.json()["id"])
    for needle in forbidden:
        assert needle.lower() not in scraped.lower(), needle
    assert 'method="other"' in scraped
