"""Rate limiting behind a small interface: fixed windows per key.

``MemoryRateLimiter`` keeps counts in this process, so each replica has its own budget. ``RedisRateLimiter``
(``http.redis_limits``, loaded only when ``DPM_SERVER_RATE_LIMIT_STORAGE=redis://…`` asks for it, since the redis
client is an optional extra) keeps them in Redis, so replicas share one.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from dpm_server.logs import get_logger
from dpm_server.settings import Rate

log = get_logger("http")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds

    def headers(self) -> dict[str, str]:
        reset = datetime.fromtimestamp(math.ceil(self.reset_at), UTC).isoformat().replace("+00:00", "Z")
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": reset,
        }

    def retry_after(self, now: float | None = None) -> int:
        return max(1, math.ceil(self.reset_at - (now if now is not None else time.time())))


class RateLimiter(Protocol):
    rate: Rate

    async def hit(self, key: str) -> Decision:
        """Counts one request for ``key``; ``allowed`` is False once the window's budget is spent."""
        ...

    async def peek(self, key: str) -> Decision:
        """The current state for ``key`` without counting anything."""
        ...

    async def release(self, key: str) -> None:
        """Gives back one counted request of the current window (never below zero)."""
        ...


class MemoryRateLimiter:
    _SWEEP_EVERY = 1024

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._hits = 0

    async def hit(self, key: str) -> Decision:
        return self.apply(key, 1)

    async def peek(self, key: str) -> Decision:
        return self.apply(key, 0)

    async def release(self, key: str) -> None:
        self.apply(key, -1)

    def apply(self, key: str, cost: int) -> Decision:
        """Adds ``cost`` (1 counts, 0 peeks, -1 gives one back) and answers the window's state."""
        # One lock around read, count and store: concurrent hits can never both see the last unit of a budget.
        now = time.time()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now >= start + self.rate.seconds:
                start, count = now, 0
            count = max(0, count + cost)
            if cost:
                self._windows[key] = (start, count)
                self._sweep(now)
        return Decision(
            count <= self.rate.requests,
            self.rate.requests,
            max(0, self.rate.requests - count),
            start + self.rate.seconds,
        )

    def _sweep(self, now: float) -> None:
        self._hits += 1
        if self._hits % self._SWEEP_EVERY == 0:
            expired = [k for k, (start, _) in self._windows.items() if now >= start + self.rate.seconds]
            for key in expired:
                del self._windows[key]


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The client address: the peer, unless the peer is a trusted proxy, then the nearest untrusted hop."""
    if peer is None:
        return "unknown"
    if not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _is_trusted(hop, trusted):
            return hop
    return peer


def _is_trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
