"""PostgreSQL specifics: writers queue on one advisory lock, replicas migrate one after the other, and a deadlock or
serialization failure runs the request again instead of answering 500."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from dpm_server import create_app
from dpm_server.db import migrate
from dpm_server.db.engine import Database, RetryableTransaction, make_engine
from tests.server import guide
from tests.server.conftest import login, make_settings
from tests.server.databases import PostgresServer

pytestmark = pytest.mark.postgresql


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    url = postgres.create("pg")
    yield url
    postgres.drop(url)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _waiting_on_a_lock(url: str, minimum: int = 1, timeout: float = 10.0) -> None:
    """Waits until ``minimum`` backends of the database wait on a heavyweight lock (a row, or the advisory lock)."""
    database = make_url(url).database
    deadline = time.monotonic() + timeout
    with psycopg.connect(_libpq(url), autocommit=True) as monitor:
        while time.monotonic() < deadline:
            row = monitor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (database,)
            ).fetchone()
            if row and row[0] >= minimum:
                return
            time.sleep(0.01)
    raise AssertionError("no backend started waiting on a lock")


def test_a_deadlock_runs_the_request_again_instead_of_a_500(
    tmp_path: Path, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Another client of the database locks the revision row, the request locks the provider row and waits for the
    revision; the other client then waits for the provider: a deadlock. PostgreSQL breaks it by failing the
    request's transaction (its deadlock check fires first), and the request runs again and succeeds."""
    with psycopg.connect(_libpq(pg_url), autocommit=True) as setup:  # the server's sessions check after 50 ms
        setup.execute(f"ALTER DATABASE \"{make_url(pg_url).database}\" SET deadlock_timeout = '50ms'")
    with TestClient(create_app(make_settings(tmp_path, database_url=pg_url))) as admin:
        admin.headers["Authorization"] = f"Bearer {login(admin)['token']}"
        provider = admin.post("/api/admin/providers", json=guide.PROVIDER).json()
        answers: list[Any] = []
        with psycopg.connect(_libpq(pg_url)) as other, caplog.at_level(logging.INFO, logger="dpm_server.http"):
            other.execute("SET deadlock_timeout = '10s'")
            other.execute("UPDATE registry_state SET revision = revision WHERE id = 1")
            request = threading.Thread(
                target=lambda: answers.append(
                    admin.put(f"/api/admin/providers/{provider['id']}", json={"name": "Renamed"})
                )
            )
            request.start()
            _waiting_on_a_lock(pg_url)  # the request holds the provider row and waits for the revision row
            other.execute("UPDATE providers SET name = name WHERE id = %s", (provider["id"],))
            other.commit()
            request.join(timeout=30)

        assert not request.is_alive()
        assert answers[0].status_code == 200, answers[0].text
        assert answers[0].json()["name"] == "Renamed"
        retries = [r for r in caplog.records if "running the request again" in r.getMessage()]
        assert retries
        assert "40P01" in retries[0].getMessage()
        assert admin.get(f"/api/admin/providers/{provider['id']}").json()["name"] == "Renamed"


def test_a_serialization_failure_is_retryable(pg_url: str) -> None:
    """Two SERIALIZABLE transactions that each read what the other writes: the one to commit second fails with
    40001, which ``Database`` raises as ``RetryableTransaction``."""
    db = Database(make_engine(pg_url))

    def collide(other: psycopg.Connection[Any]) -> None:
        with db.read() as session:
            session.execute(text("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
            session.execute(text("SELECT count(*) FROM audit_log")).scalar()
            session.execute(text("UPDATE registry_state SET revision = revision + 1"))
            other.execute(
                "INSERT INTO audit_log (occurred_at, username, action, resource_type) VALUES (now(), 'x', 'x', 'x')"
            )
            other.commit()  # it read registry_state before this transaction changed it, and commits first

    with psycopg.connect(_libpq(pg_url)) as other:
        other.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        other.execute("SELECT revision FROM registry_state").fetchone()
        with pytest.raises(RetryableTransaction) as raised:
            collide(other)
    db.dispose()
    assert raised.value.sqlstate == "40001"


def test_writers_of_two_replicas_queue_on_one_lock(pg_url: str) -> None:
    one, two = Database(make_engine(pg_url)), Database(make_engine(pg_url))
    entered = threading.Event()
    order: list[str] = []

    def second_writer() -> None:
        entered.wait(5)
        with two.write() as session:
            session.execute(text("SELECT 1"))  # the transaction's first statement takes the lock
            order.append("two")

    thread = threading.Thread(target=second_writer)
    thread.start()
    with one.write() as session:
        session.execute(text("SELECT 1"))
        entered.set()
        _waiting_on_a_lock(pg_url)  # the other replica's writer waits for this one
        order.append("one")
    thread.join(timeout=10)
    one.dispose()
    two.dispose()
    assert order == ["one", "two"]


def test_replicas_starting_together_migrate_one_after_the_other(postgres: PostgresServer) -> None:
    url = postgres.create("fresh")
    with psycopg.connect(_libpq(url), autocommit=True) as connection:  # an empty database, not the template's copy
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    engines = [make_engine(url) for _ in range(3)]
    errors: list[BaseException] = []

    def start(index: int) -> None:
        try:
            migrate.upgrade(engines[index])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with engines[0].connect() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    for engine in engines:
        engine.dispose()
    postgres.drop(url)
    assert errors == []
    assert head is not None
