"""Reading the registry ahead: a read runs on a thread while the command does other work (compiling the config).

A plan's two requests (the login and the export) spend most of their time waiting for the registry, and compiling a
large config takes longer than both, so running them side by side takes the wait off a plan's time.

The thread has the client to itself until ``result`` or ``stop`` waits for it and gives the client back. It never
waits for the registry's rate-limit window: a read that would have to wait stops instead, and ``result`` does it
again on the caller's thread, where the wait shows as it always does (a countdown, up to --max-wait). A read nobody
needs (the config turned out invalid) is stopped: a retry's pause ends at once, so only a request already sent is
waited for.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from dpm.registry.client import RegistryClient

T = TypeVar("T")

SWITCH_INTERVAL = 0.0002  # seconds; see Ahead


class _Deferred(Exception):
    """The read would have to wait (for the rate-limit window, or after it was stopped): it is left to ``result``."""


class Ahead(Generic[T]):
    """``read(client)`` started on a thread; ``result()`` is its value, or raises what it raised."""

    def __init__(self, client: RegistryClient, read: Callable[[RegistryClient], T]) -> None:
        self.client = client
        self.requests_before = client.requests  # what the read costs is counted from here
        self._read = read
        self._stopped = threading.Event()
        self._value: T | None = None
        self._error: Exception | None = None
        self._given_back = False
        self._wait, self._sleep = client.wait, client.sleep
        client.wait, client.sleep = self._would_wait, self._pause
        self._thread = threading.Thread(target=self._run, name="dpm-read-ahead", daemon=True)
        self._interval = sys.getswitchinterval()
        # The read takes the GIL back after each chunk the socket gives it; at the default interval (5 ms) a busy
        # main thread keeps it that long each time, which made an 8 MB export (1,000 providers x 10 models) take longer
        # than compiling them: 0.87 s instead of 0.3 s.
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread.start()

    def result(self) -> T:
        self._give_back()
        if isinstance(self._error, _Deferred):
            self._value, self._error = self._read(self.client), None
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value

    def stop(self) -> None:
        """Ends a read whose result is not needed, at its next pause, and gives the client back. A request already
        sent is waited for (within the client's timeouts): a thread must not outlive the command, since one still
        running while the interpreter shuts down can crash it."""
        self._stopped.set()
        self._give_back()

    def _run(self) -> None:
        try:
            self._value = self._read(self.client)
        except Exception as exc:  # raised on the caller's thread, by result()
            self._error = exc

    def _give_back(self) -> None:
        if not self._given_back:  # once: the read is over, and the client is the caller's again
            self._thread.join()
            sys.setswitchinterval(self._interval)
            self.client.wait, self.client.sleep = self._wait, self._sleep
            self._given_back = True

    def _would_wait(self, seconds: float, reason: str) -> None:
        raise _Deferred(reason)

    def _pause(self, seconds: float) -> None:
        if self._stopped.wait(seconds):
            raise _Deferred("stopped")


@contextmanager
def reading(client: RegistryClient, read: Callable[[RegistryClient], T]) -> Iterator[Ahead[T]]:
    """``read(client)`` on a thread for the length of the block; stopped at its end if its result was not taken."""
    ahead = Ahead(client, read)
    try:
        yield ahead
    finally:
        ahead.stop()
