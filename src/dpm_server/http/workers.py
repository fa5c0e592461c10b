"""Small thread pools for CPU-heavy work that must not compete with the event loop: password checks and the
checks of large request bodies.

A caller awaits the pool's future on the event loop, so work waiting for a place holds no thread. On Linux the
pool's threads (and any thread they start, which inherits it) run at a lower CPU priority than the rest of the
process, so that the event loop keeps getting the CPU while they work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
NICENESS = 10  # added to the process's own


class BackgroundPool:
    def __init__(self, name: str, size: int) -> None:
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix=name, initializer=_lower_priority)

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.wrap_future(self._executor.submit(work))


def _lower_priority() -> None:
    if sys.platform == "linux":  # a thread id names one thread only on Linux; elsewhere it would renice the process
        with contextlib.suppress(OSError):
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS))
