"""Password checks run in a small pool of their own, at a lower CPU priority than the event loop."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import pytest

from dpm_server.auth import passwords
from dpm_server.http import workers


def test_at_most_two_checks_run_at_once() -> None:
    running: list[int] = []
    most = 0
    lock = threading.Lock()

    def check() -> None:
        nonlocal most
        with lock:
            running.append(1)
            most = max(most, len(running))
        time.sleep(0.05)
        with lock:
            running.pop()

    async def burst() -> None:
        await asyncio.gather(*(passwords.in_check_pool(check) for _ in range(8)))

    asyncio.run(burst())

    assert most == passwords.CHECKS_AT_ONCE == 2


@pytest.mark.skipif(sys.platform != "linux", reason="thread priorities are per thread on Linux only")
def test_checks_run_at_a_lower_priority() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert asyncio.run(passwords.in_check_pool(niceness)) == min(19, workers.NICENESS + niceness())
