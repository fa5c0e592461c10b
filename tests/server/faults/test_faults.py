"""Faults, not just happy paths: a real ``dpm serve`` killed with SIGKILL in the middle of an import and during a
stream of writes, and many concurrent writers on one server.

After a kill the database must pass its integrity check, an import must be wholly there or wholly absent, and every
write the client saw acknowledged (a 2xx it received) must still be there after a restart.
"""

from __future__ import annotations

import copy
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import guide
from tests.server.databases import PostgresServer
from tests.server.serving import Served, serving

PROVIDERS = "/admin/providers"
STATUS = "/admin/providers/registry-status"


def _provider(identifier: str) -> dict[str, Any]:
    """The guide's provider under another identifier, with a key of its own."""
    provider = copy.deepcopy(guide.PROVIDER) | {"identifier": identifier, "name": f"Provider {identifier}"}
    provider["authConfig"]["fields"]["apiKey"] = f"sk-{identifier}"
    return provider


def _model(identifier: str, provider: str) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "name": identifier.upper(),
        "contextLength": 8192,
        "providerIdentifier": provider,
        "capabilities": {
            "supportsSystemMessages": True,
            "maxContextLength": 8192,
            "supportedRoles": ["system", "user", "assistant"],
            "supportsStreaming": True,
            "supportsTools": True,
            "supportsFunctionCalling": True,
        },
    }


def _import_document(providers: int, models_each: int) -> dict[str, Any]:
    names = [f"bulk-{index:04d}" for index in range(providers)]
    return {
        "data": {
            "providers": [_provider(name) for name in names],
            "models": [_model(f"model-{number}", name) for name in names for number in range(models_each)],
        }
    }


def _integrity(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def _count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _wait_for_a_writer(database: Path, timeout: float = 30) -> None:
    """Waits until a transaction holds SQLite's write lock (the import's BEGIN IMMEDIATE)."""
    deadline = time.monotonic() + timeout
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        while time.monotonic() < deadline:
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return
                raise
            time.sleep(0.005)
    finally:
        probe.close()
    raise AssertionError("no write transaction started")


def _wait_for_uncommitted_pages(database: Path, grown: int = 512 * 1024, timeout: float = 30) -> None:
    """Waits until the write-ahead log has grown by ``grown`` bytes: a big transaction's pages are being written."""
    wal = database.with_name(database.name + "-wal")
    start = wal.stat().st_size if wal.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size >= start + grown:
            return
        time.sleep(0.002)
    raise AssertionError("the write-ahead log did not grow")


def _identifiers(client: httpx.Client) -> set[str]:
    found: set[str] = set()
    page = 1
    while page <= 100:
        body = client.get(PROVIDERS, params={"page": page, "limit": 100}).json()
        found |= {p["identifier"] for p in body["data"]}
        if page >= body["pagination"]["totalPages"]:
            break
        page += 1
    return found


def test_sigkill_in_the_middle_of_an_import_leaves_it_wholly_absent(tmp_path: Path) -> None:
    database = tmp_path / "registry.db"
    document = _import_document(providers=600, models_each=10)
    server = Served(tmp_path)
    outcome: dict[str, Any] = {}
    with serving(server):
        headers = server.admin_headers()
        before = httpx.get(f"{server.base}{STATUS}", headers=headers).json()

        def send() -> None:
            try:
                outcome["response"] = httpx.post(
                    f"{server.base}{PROVIDERS}/import", json=document, headers=headers, timeout=60
                )
            except httpx.TransportError as exc:
                outcome["error"] = exc

        request = threading.Thread(target=send)
        request.start()
        _wait_for_a_writer(database)
        _wait_for_uncommitted_pages(database)  # the import's rows spill to the WAL before it commits
        server.kill()
        request.join(timeout=30)

    assert "response" not in outcome, "the import finished before the kill; the test needs a bigger one"
    assert _integrity(database) == "ok"
    assert _count(database, "providers") == 0  # wholly absent: nothing of it was acknowledged
    assert _count(database, "models") == 0

    restarted = Served(tmp_path)
    with serving(restarted):
        headers = restarted.admin_headers()
        status = httpx.get(f"{restarted.base}{STATUS}", headers=headers).json()
        assert status["revision"] == before["revision"]
        again = httpx.post(f"{restarted.base}{PROVIDERS}/import", json=document, headers=headers, timeout=60)
        assert again.status_code == 200, again.text
    assert _integrity(database) == "ok"
    assert _count(database, "providers") == 600  # and, committed, wholly there
    assert _count(database, "models") == 6000


def test_sigkill_during_a_stream_of_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    database = tmp_path / "registry.db"
    server = Served(tmp_path)
    acknowledged: set[str] = set()
    attempted: set[str] = set()
    lock = threading.Lock()
    with serving(server):
        headers = server.admin_headers()

        def writer(index: int) -> None:
            with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
                for number in range(1000):
                    identifier = f"w{index}-{number:04d}"
                    with lock:
                        attempted.add(identifier)
                    try:
                        response = client.post(PROVIDERS, json=_provider(identifier))
                    except httpx.TransportError:
                        return
                    assert response.status_code == 201, response.text
                    with lock:
                        acknowledged.add(identifier)

        writers = [threading.Thread(target=writer, args=(index,)) for index in range(4)]
        for thread in writers:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
        for thread in writers:
            thread.join(timeout=30)

    assert len(acknowledged) >= 60
    assert _integrity(database) == "ok"
    restarted = Served(tmp_path)
    with serving(restarted), httpx.Client(base_url=restarted.base, headers=restarted.admin_headers()) as client:
        stored = _identifiers(client)
        status = client.get(STATUS).json()

    assert acknowledged <= stored  # no acknowledged write is lost
    assert stored <= attempted  # and nothing appears that was never sent
    assert len(stored - acknowledged) <= 4  # at most the one in flight per writer, committed but not yet answered
    assert status["revision"] == len(stored)  # each committed create moved the revision once, with its row


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def one_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    url = None
    if request.param == "postgresql":
        postgres: PostgresServer = request.getfixturevalue("postgres")
        url = postgres.create("writers")
    server = Served(tmp_path, url)
    try:
        with serving(server):
            yield server
    finally:
        if url:
            request.getfixturevalue("postgres").drop(url)


def test_concurrent_writers_get_no_locked_database_and_no_5xx(one_server: Served) -> None:
    """8 threads x 50 writes (creates, and renames of what they created) through HTTP against one server."""
    headers = one_server.admin_headers()
    statuses: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def writer(index: int) -> None:
        mine: list[str] = []
        with httpx.Client(base_url=one_server.base, headers=headers, timeout=60) as client:
            start.wait()
            for number in range(50):
                if number % 2 == 0:
                    response = client.post(PROVIDERS, json=_provider(f"c{index}-{number:02d}"))
                    if response.status_code == 201:
                        mine.append(response.json()["id"])
                else:
                    response = client.put(f"{PROVIDERS}/{mine[-1]}", json={"name": f"renamed {number}"})
                with lock:
                    statuses.append(response.status_code)
                    if response.status_code >= 300 or "locked" in response.text:
                        failures.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(statuses) == 400
    assert failures == []
    assert sum(status >= 500 for status in statuses) == 0
    assert "database is locked" not in one_server.log()
    with httpx.Client(base_url=one_server.base, headers=headers) as client:
        assert client.get(PROVIDERS).json()["pagination"]["total"] == 200
