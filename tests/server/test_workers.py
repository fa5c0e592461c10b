"""The app's small thread pools (password checks, large-body checks, connectivity tests): bounded, below the event
loop's CPU priority where asked, and usable again after the app's lifespan closed them."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path

import pytest

from dpm_server import Settings, create_app, workers
from dpm_server.auth.passwords import CHECKS_AT_ONCE
from dpm_server.context import AppContext
from dpm_server.workers import BackgroundPool


def test_at_most_size_tasks_run_at_once() -> None:
    pool = BackgroundPool("test", 2)
    # Two tasks meet at the barrier, so two ran together; a third arriving early would break it.
    together = threading.Barrier(2, timeout=10)
    running = 0
    most = 0
    lock = threading.Lock()

    def task() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        together.wait()
        with lock:
            running -= 1

    async def burst() -> None:
        await asyncio.gather(*(pool.run(task) for _ in range(8)))

    try:
        asyncio.run(burst())
    finally:
        pool.close()
    assert most == 2


@pytest.mark.skipif(sys.platform != "linux", reason="thread priorities are per thread on Linux only")
def test_pool_threads_run_at_a_lower_priority_unless_told_not_to() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    lowered, plain = BackgroundPool("low", 1), BackgroundPool("plain", 1, lower_priority=False)
    try:
        assert asyncio.run(lowered.run(niceness)) == min(19, workers.NICENESS + niceness())
        assert asyncio.run(plain.run(niceness)) == niceness()
    finally:
        lowered.close()
        plain.close()


def test_a_closed_pool_starts_again_on_next_use() -> None:
    pool = BackgroundPool("again", 1)
    assert asyncio.run(pool.run(lambda: 1)) == 1
    pool.close()
    assert asyncio.run(pool.run(lambda: 2)) == 2
    pool.close()


def test_each_app_has_its_own_pools(tmp_path: Path) -> None:
    first: AppContext = create_app(Settings(data_dir=tmp_path / "a")).state.context
    second: AppContext = create_app(Settings(data_dir=tmp_path / "b")).state.context
    assert first.password_checks is not second.password_checks
    assert first.body_checks is not second.body_checks
    assert first.password_checks.size == CHECKS_AT_ONCE
    for context in (first, second):
        context.close()
