"""``/healthz`` and ``/readyz``: what they answer while the database answers, while it does not and once it is
back, while its schema lags behind the code, and after the rate limit is spent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from dpm_server import create_app
from dpm_server.db import migrate
from dpm_server.services.operations import Readiness
from tests.server.conftest import login, make_settings
from tests.server.databases import PostgresServer

PROBES = ("/healthz", "/readyz")


def test_healthz_answers_while_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Request-ID"]


def test_readyz_answers_when_the_database_answers_and_is_migrated(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}


def test_the_probes_need_no_login_and_are_not_in_the_api_document(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]

    assert not set(PROBES) & set(paths)
    assert [client.get(path, headers={"Authorization": "Bearer nonsense"}).status_code for path in PROBES] == [200, 200]


def test_readyz_is_503_while_the_schema_is_behind_the_code(client: TestClient) -> None:
    engine = client.app.state.context.db.engine  # type: ignore[attr-defined]
    (head,) = migrate.heads()
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))

    behind = client.get("/readyz")

    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    assert behind.status_code == 503
    assert behind.json() == {
        "status": "unavailable",
        "reason": f"database schema is at 0001, this server needs {head}",
    }
    assert client.get("/readyz").status_code == 200


def test_the_probes_are_outside_the_rate_limit(tmp_path: Path, database_url: str | None) -> None:
    with TestClient(create_app(make_settings(tmp_path, database_url=database_url, rate_limit="3/900"))) as client:
        probes = [client.get(path) for path in PROBES * 10]  # before the limit: they spend none of it
        spent = [client.get("/api/admin/providers").status_code for _ in range(4)]
        after = [client.get(path) for path in PROBES * 3]

    assert spent == [401, 401, 401, 429]
    assert [r.status_code for r in probes + after] == [200] * 26
    assert not any("X-RateLimit-Limit" in r.headers for r in probes + after)


def _libpq(server: PostgresServer) -> str:
    return server.url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def _closed(server: PostgresServer, url: str) -> Iterator[None]:
    """The database refuses every connection (and loses the ones it had) until the block ends; the server and
    every other database on it keep running."""
    name = sql.Identifier(str(make_url(url).database))
    with psycopg.connect(_libpq(server), autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (make_url(url).database,),
        )
        try:
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


@pytest.mark.postgresql
def test_readyz_is_503_while_postgresql_refuses_the_database_and_200_once_it_answers(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    url = postgres.create("ready")
    try:
        with TestClient(create_app(make_settings(tmp_path, database_url=url, metrics=True))) as client:
            assert client.get("/readyz").status_code == 200
            with _closed(postgres, url):
                down = client.get("/readyz")
                alive = client.get("/healthz")
                scraped = client.get("/metrics")
            back = client.get("/readyz")
    finally:
        postgres.drop(url)

    assert down.status_code == 503
    assert down.json() == {"status": "unavailable", "reason": "database unreachable (OperationalError)"}
    assert alive.status_code == 200
    assert scraped.status_code == 200  # a scrape still answers; the revision gauge keeps its last value
    assert 'dpm_database_errors_total{error="OperationalError"}' in scraped.text
    assert back.status_code == 200, back.text
    for secret in (str(make_url(url).database), "postgres", "127.0.0.1", "55432"):
        assert secret not in down.text


@pytest.mark.postgresql
def test_one_readiness_check_at_a_time_while_the_database_is_slow_to_answer(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """A lock held on the migrations table stalls the first check; the next probe answers 503 at once instead of
    taking a second thread, and the first answers 200 when the lock goes."""
    url = postgres.create("slow")
    try:
        with TestClient(create_app(make_settings(tmp_path, database_url=url))) as client:
            libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(libpq) as holder, ThreadPoolExecutor(1) as pool:
                holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
                first = pool.submit(client.get, "/readyz")
                _wait_until_waiting(holder)
                second = client.get("/readyz")
                holder.rollback()
                stalled = first.result(timeout=30)
    finally:
        postgres.drop(url)

    assert second.status_code == 503
    assert second.json()["reason"] == Readiness.BUSY
    assert stalled.status_code == 200, stalled.text


def _wait_until_waiting(holder: psycopg.Connection[tuple[object, ...]]) -> None:
    """Until another session waits for the lock that ``holder`` holds."""
    deadline = time.monotonic() + 10
    query = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'alembic_version'::regclass"
    while time.monotonic() < deadline:
        row = holder.execute(query).fetchone()
        if row and row[0]:
            return
        time.sleep(0.02)
    raise AssertionError("the readiness check never waited for the lock")


def test_readyz_is_503_while_the_sqlite_file_cannot_be_opened_and_200_once_it_can(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with TestClient(create_app(make_settings(data))) as client:
        client.headers["Authorization"] = f"Bearer {login(client)['token']}"
        engine = client.app.state.context.db.engine  # type: ignore[attr-defined]
        data.rename(tmp_path / "moved")
        engine.dispose()  # pooled connections would keep reading the moved file; new ones find none
        down = client.get("/readyz")
        (tmp_path / "moved").rename(data)
        back = client.get("/readyz")

    assert down.status_code == 503
    assert down.json() == {"status": "unavailable", "reason": "database unreachable (OperationalError)"}
    assert str(tmp_path) not in down.text
    assert back.status_code == 200
