"""Small thread pools for CPU-heavy work that must not compete with the event loop: password checks and the
checks of large request bodies.

A caller awaits the pool's future on the event loop, so work waiting for a place holds no thread. On Linux the
pool's threads (and any thread they start, which inherits it) run at a lower CPU priority than the rest of the
process, so that the event loop keeps getting the CPU while they work.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
NICENESS = 10  # added to the process's own


class BackgroundPool:
    """``size`` threads of their own, started on first use and again after ``close``: an app's lifespan may run
    more than once (a test client entered twice), and a closed pool must not turn the next request into a 500."""

    def __init__(self, name: str, size: int, *, lower_priority: bool = True) -> None:
        self.name = name
        self.size = size
        self._initializer = _lower_priority if lower_priority else None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], T]) -> Future[T]:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.size, self.name, initializer=self._initializer)
            # In the caller's context: a log line of the work carries the request id of the request it serves.
            return self._executor.submit(contextvars.copy_context().run, work)

    async def run(self, work: Callable[[], T]) -> T:
        """``work``'s result; the caller waits on the event loop, holding no thread while ``work`` queues."""
        return await asyncio.wrap_future(self.submit(work))

    def close(self) -> None:
        """Lets running work finish on its own and drops what still queues."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    if sys.platform == "linux":  # a thread id names one thread only on Linux; elsewhere it would renice the process
        with contextlib.suppress(OSError):
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS))
