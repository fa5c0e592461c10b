"""The connectivity pool: a fixed number of tests at once, refusals instead of a queue, slots held until a test
ends even when its caller has stopped waiting."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from dpm_server.errors import RateLimited
from dpm_server.services.connectivity import ConnectivityPool


def _held(release: threading.Event) -> Any:
    def test() -> dict[str, Any]:
        release.wait(10)
        return {"success": True}

    return test


def test_tests_beyond_the_size_are_refused_with_retry_after() -> None:
    pool = ConnectivityPool(2, 2.5)
    release = threading.Event()

    async def scenario() -> list[Any]:
        running = [asyncio.create_task(pool.run(_held(release))) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(RateLimited) as refused:
            await pool.run(_held(release))
        release.set()
        return [refused.value, *await asyncio.gather(*running)]

    try:
        refused, *results = asyncio.run(scenario())
    finally:
        pool.close()

    assert results == [{"success": True}] * 2
    assert refused.headers == {"Retry-After": "3"}
    assert refused.details == {"limit": 2, "retryAfter": 3}
    assert "DPM_SERVER_CONNECTIVITY_TESTS" in refused.message


def test_a_slot_stays_taken_until_its_test_ends_even_when_the_caller_gives_up() -> None:
    pool = ConnectivityPool(1, 1)
    release = threading.Event()

    async def scenario() -> dict[str, Any]:
        abandoned = asyncio.create_task(pool.run(_held(release)))
        await asyncio.sleep(0.05)
        abandoned.cancel()
        with pytest.raises(RateLimited):
            await pool.run(_held(release))
        release.set()
        for _ in range(100):
            try:
                return await pool.run(lambda: {"success": True})
            except RateLimited:
                await asyncio.sleep(0.02)
        raise AssertionError("the slot was never given back")

    try:
        assert asyncio.run(scenario()) == {"success": True}
    finally:
        pool.close()


def test_the_pool_runs_again_after_it_was_closed() -> None:
    pool = ConnectivityPool(1, 1)
    pool.close()  # before any use: nothing to stop

    async def once() -> dict[str, Any]:
        return await pool.run(lambda: {"success": True})

    assert asyncio.run(once()) == {"success": True}
    pool.close()
    assert asyncio.run(once()) == {"success": True}  # an app whose lifespan ended and started again
    pool.close()
