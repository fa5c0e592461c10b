"""Two ``dpm serve`` processes on one PostgreSQL database: a write through one shows in the other's registry status
(its ``revision`` and counts) within a second, in both directions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import guide
from tests.server.databases import PostgresServer
from tests.server.serving import Served, serving, shared_keys

pytestmark = pytest.mark.postgresql
STATUS = "/admin/providers/registry-status"


@pytest.fixture
def replicas(tmp_path: Path, postgres: PostgresServer) -> Iterator[tuple[Served, Served]]:
    url = postgres.create("replicas")
    keys = shared_keys()
    one = Served(tmp_path / "one", url, keys)
    two = Served(tmp_path / "two", url, keys)
    for server in (one, two):
        server.data_dir.mkdir()
    try:
        with serving(one, two):  # started together: they migrate and seed one after the other
            yield one, two
    finally:
        postgres.drop(url)


def _until(check: Callable[[], dict[str, Any] | None], timeout: float = 1.0) -> tuple[dict[str, Any], float]:
    """Polls until ``check`` answers; returns the answer and the seconds it took."""
    started = time.perf_counter()
    while True:
        answer = check()
        elapsed = time.perf_counter() - started
        if answer is not None:
            return answer, elapsed
        if elapsed > timeout:
            raise AssertionError(f"not seen within {timeout} s")
        time.sleep(0.005)


def test_a_write_through_one_replica_shows_in_the_others_status_within_a_second(
    replicas: tuple[Served, Served],
) -> None:
    one, two = replicas
    headers = one.admin_headers()  # a token from one replica is good on the other: they share the JWT key
    with httpx.Client(base_url=one.base, headers=headers) as a, httpx.Client(base_url=two.base, headers=headers) as b:
        before = b.get(STATUS).json()
        assert a.get(STATUS).json()["revision"] == before["revision"]

        created = a.post("/admin/providers", json=guide.PROVIDER)
        assert created.status_code == 201

        def seen_on_two() -> dict[str, Any] | None:
            status: dict[str, Any] = b.get(STATUS).json()
            return status if status["revision"] > before["revision"] else None

        status, elapsed = _until(seen_on_two)
        assert status["revision"] == before["revision"] + 1
        assert status["providersLoaded"] == before["providersLoaded"] + 1
        assert elapsed < 1.0

        model = b.post(f"/admin/providers/{created.json()['id']}/models", json=guide.MODEL)
        assert model.status_code == 201

        def seen_on_one() -> dict[str, Any] | None:
            status: dict[str, Any] = a.get(STATUS).json()
            return status if status["modelsLoaded"] == before["modelsLoaded"] + 1 else None

        status, elapsed = _until(seen_on_one)
        assert status["revision"] == before["revision"] + 2
        assert elapsed < 1.0
        assert a.get(f"/admin/providers/{created.json()['id']}/models").json()[0]["identifier"] == "gpt-4"
