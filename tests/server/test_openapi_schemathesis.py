"""Property-based conformance: schemathesis drives every operation in the served OpenAPI document.

Checks: no server errors, documented status codes, content types and headers, and response bodies that match
their schemas. The rate limit is raised for the run, and the example count kept small to bound the suite's time.
The run is repeated, with fewer examples, on a PostgreSQL database when DPM_TEST_POSTGRES_URL names a server.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from dpm_server import create_app, embedded_admin_token
from tests.server import guide
from tests.server.conftest import make_settings
from tests.server.databases import POSTGRES_ENV, POSTGRES_URL, PostgresServer, in_ci, missing

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Schemathesis collects operations at import time, so this app is built then, in its own temporary directory.
_data_dir = tempfile.TemporaryDirectory(prefix="dpm-schemathesis-")
_app = create_app(make_settings(Path(_data_dir.name), rate_limit="1000000/60", login_rate_limit="1000000/60"))
AUTH = {"Authorization": f"Bearer {embedded_admin_token(_app)}"}
schema = schemathesis.openapi.from_asgi("/api/openapi.json", _app)

# The same app on PostgreSQL, in a database of its own, when a server is at hand.
_postgres = PostgresServer(POSTGRES_URL) if POSTGRES_URL else None
_pg_url = _postgres.create_empty("schemathesis") if _postgres else None
_pg_app = (
    create_app(
        make_settings(
            Path(_data_dir.name) / "pg", database_url=_pg_url, rate_limit="1000000/60", login_rate_limit="1000000/60"
        )
    )
    if _pg_url
    else None
)
PG_AUTH = {"Authorization": f"Bearer {embedded_admin_token(_pg_app)}"} if _pg_app else {}


def _seed(app: Any, auth: dict[str, str]) -> None:
    with TestClient(app, headers=auth) as client:
        provider = client.post("/api/admin/providers", json=guide.PROVIDER).json()
        client.post(f"/api/admin/providers/{provider['id']}/models", json=guide.MODEL)


@pytest.fixture(scope="module", autouse=True)
def _seeded() -> Iterator[None]:
    _seed(_app, AUTH)
    if _pg_app is not None:
        _seed(_pg_app, PG_AUTH)
    yield
    _app.state.context.db.dispose()
    if _pg_app is not None and _postgres is not None and _pg_url is not None:
        _pg_app.state.context.db.dispose()
        _postgres.drop(_pg_url)
    _data_dir.cleanup()


def _declared(case: Any, status: int) -> bool:
    """The operation declares this status, or it is 405 for a method the path lacks (schemathesis sends some)."""
    if case.method.upper() != case.operation.method.upper():
        return status == 405
    return case.operation.responses.find_by_status_code(status) is not None


@schema.parametrize()
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case: Any) -> None:
    response = case.call_and_validate(headers=AUTH, checks=CHECKS)
    assert _declared(case, response.status_code)


if _pg_app is not None:
    pg_schema = schemathesis.openapi.from_asgi("/api/openapi.json", _pg_app)

    @pytest.mark.postgresql
    @pg_schema.parametrize()
    @settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def test_api_conforms_to_its_openapi_on_postgresql(case: Any) -> None:
        response = case.call_and_validate(headers=PG_AUTH, checks=CHECKS)
        assert _declared(case, response.status_code)

else:

    @pytest.mark.postgresql
    def test_api_conforms_to_its_openapi_on_postgresql() -> None:
        if in_ci():
            pytest.fail(f"CI=true but {POSTGRES_ENV} is not set: the PostgreSQL variants must run in CI")
        pytest.skip(missing("PostgreSQL", POSTGRES_ENV))


def test_openapi_declares_errors_and_rate_limit_headers() -> None:
    with TestClient(_app) as client:
        document = client.get("/api/openapi.json").json()
    create = document["paths"]["/api/admin/providers"]["post"]["responses"]

    assert {"201", "400", "401", "403", "409", "413", "415", "422", "429", "500"} <= set(create)
    assert create["422"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorResponse"
    assert set(create["201"]["headers"]) >= {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
    assert "Retry-After" in create["429"]["headers"]
