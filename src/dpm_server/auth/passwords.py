"""argon2id password hashing (argon2-cffi's defaults are the RFC 9106 low-memory profile).

Each check takes 64 MiB and four threads of CPU for a while, on purpose. Logins therefore check passwords in a
small pool of their own, ``CHECKS_AT_ONCE`` at a time per process, and wait for it without holding a thread: a burst
of logins queues there instead of crowding out the threads that serve every other request. On Linux the pool's
threads (and the threads argon2 starts from them, which inherit it) run at a lower CPU priority, so that the event
loop is not starved of CPU while they hash.
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

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")
CHECKS_AT_ONCE = 2
NICENESS = 10  # added to the process's own


def _lower_priority() -> None:
    if sys.platform == "linux":  # a thread id names one thread only on Linux; elsewhere it would renice the process
        with contextlib.suppress(OSError):
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS))


_checks = ThreadPoolExecutor(max_workers=CHECKS_AT_ONCE, thread_name_prefix="dpm-password", initializer=_lower_priority)
_hasher = PasswordHasher(type=Type.ID)
# Verified against when the user does not exist, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def in_check_pool(work: Callable[[], T]) -> T:
    """Runs ``work`` (which checks a password) in the password pool; waits on the event loop, not in a thread."""
    return await asyncio.wrap_future(_checks.submit(work))
