"""Every test builds its own app from ``create_app`` over its own database.

Tests that take the ``settings`` fixture (and so ``client`` and ``admin``) run twice: on a SQLite file in their
tmp_path, and on a fresh PostgreSQL database (see ``tests/server/databases.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from dpm_server import Settings, create_app
from tests.server.databases import POSTGRES_ENV, POSTGRES_URL, REDIS_ENV, REDIS_URL, PostgresServer, in_ci, missing
from tests.server.outbound.fake_provider import FakeProvider
from tests.server.outbound.sandbox import Network

# Starlette's TestClient asks for the httpx2 fork; the suite runs on httpx, which it still supports.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "your-admin-password"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "admin_username": ADMIN_USERNAME,
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "rate_limit": "100000/900",
    }
    return Settings(**(values | overrides))


def login(client: TestClient, username: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> dict[str, Any]:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The PostgreSQL server named by DPM_TEST_POSTGRES_URL, with a migrated template database for this run."""
    url = POSTGRES_URL
    if not url:
        if in_ci():
            pytest.fail(f"CI=true but {POSTGRES_ENV} is not set: the PostgreSQL variants must run in CI")
        pytest.skip(missing("PostgreSQL", POSTGRES_ENV))
    server = PostgresServer(url)
    server.create_template()
    yield server
    server.drop_template()


@pytest.fixture
def redis_url() -> str:
    """The redis-server named by DPM_TEST_REDIS_URL, emptied for this test."""
    if not REDIS_URL:
        if in_ci():
            pytest.fail(f"CI=true but {REDIS_ENV} is not set: the Redis tests must run in CI")
        pytest.skip(missing("Redis", REDIS_ENV))
    import redis  # noqa: PLC0415 - only the Redis tests need the client

    with redis.Redis.from_url(REDIS_URL) as client:
        client.flushdb()
    return REDIS_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the SQLite file under the data dir, else the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create()
    yield url
    server.drop(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """The client, logged in as the admin."""
    client.headers["Authorization"] = f"Bearer {login(client)['token']}"
    return client


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    """Every server test runs on a loopback-only network that records lookups and connects."""
    sandbox = Network()
    sandbox.install(monkeypatch)
    return sandbox


@pytest.fixture(scope="session")
def _fake_provider_server() -> Iterator[FakeProvider]:
    with FakeProvider.running() as fake:
        yield fake


@pytest.fixture
def fake_provider(_fake_provider_server: FakeProvider) -> Iterator[FakeProvider]:
    """The fake provider on 127.0.0.1, behaving well until told otherwise."""
    _fake_provider_server.reset()
    yield _fake_provider_server
    _fake_provider_server.reset()


@pytest.fixture
def allowed_admin(tmp_path: Path, database_url: str | None) -> Iterator[TestClient]:
    """An admin client of a server whose outbound allow-list admits 127.0.0.1 (the fake provider); 0.5 s limit."""
    settings = make_settings(tmp_path, database_url=database_url, outbound_allow="127.0.0.1", outbound_timeout=0.5)
    with TestClient(create_app(settings)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {login(test_client)['token']}"
        yield test_client
