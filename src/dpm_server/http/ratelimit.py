"""Rate limiting behind a small interface: fixed windows per key.

``MemoryRateLimiter`` keeps counts in this process, so each replica has its own budget. ``RedisRateLimiter``
keeps them in Redis (``DPM_SERVER_RATE_LIMIT_STORAGE=redis://…``), so replicas share one: a Lua script counts and
starts the window's expiry in one atomic step, and answers the count with the time left in the window.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from redis import RedisError
from redis.asyncio import BlockingConnectionPool, Redis

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


# KEYS[1]: the window's counter. ARGV: cost (0 peeks, -1 gives one back), window length in ms.
# Returns {count, ms left in the window}. Redis runs a script atomically: the count and the check are one step.
_WINDOW_SCRIPT = """
local cost = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if cost > 0 or (cost < 0 and count > 0) then
  count = redis.call('INCRBY', KEYS[1], cost)
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  if count > 0 then
    redis.call('PEXPIRE', KEYS[1], window)
  end
  left = window
end
return {count, left}
"""


class RedisConnection:
    """One Redis client per event loop (an asyncio connection belongs to the loop that opened it).

    Its pool blocks (up to ``timeout``) for a free connection instead of failing at once, so that a burst of
    requests is counted in Redis rather than in the fallback counters.
    """

    MAX_CONNECTIONS = 64

    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        self.url = url
        self.timeout = timeout
        self._clients: dict[asyncio.AbstractEventLoop, tuple[Redis, Any]] = {}

    def script(self) -> Any:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            pool = BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.MAX_CONNECTIONS,
                timeout=self.timeout,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
            )
            client = Redis.from_pool(pool)
            entry = self._clients[loop] = (client, client.register_script(_WINDOW_SCRIPT))
        return entry[1]

    async def aclose(self) -> None:
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].aclose()


class RedisRateLimiter:
    """A budget shared by every process that uses the same Redis, ``namespace`` and rate.

    When Redis cannot be reached the process falls back to its own in-memory counters (and logs it), so an
    outage of the limiter's store degrades to per-replica limits instead of failing requests.
    """

    _WARN_EVERY = 60.0

    def __init__(self, rate: Rate, connection: RedisConnection, namespace: str) -> None:
        self.rate = rate
        self.connection = connection
        self.prefix = f"dpm:ratelimit:{namespace}:{rate}:"
        self.fallback = MemoryRateLimiter(rate)
        self._warned_at = -math.inf

    async def hit(self, key: str) -> Decision:
        return await self._update(key, 1)

    async def peek(self, key: str) -> Decision:
        return await self._update(key, 0)

    async def release(self, key: str) -> None:
        await self._update(key, -1)

    async def _update(self, key: str, cost: int) -> Decision:
        window_ms = self.rate.seconds * 1000
        try:
            count, left_ms = await self.connection.script()(keys=[self.prefix + key], args=[cost, window_ms])
        except (RedisError, OSError) as exc:
            self._warn(exc)
            return self.fallback.apply(key, cost)
        count, left_ms = int(count), int(left_ms)
        return Decision(
            count <= self.rate.requests,
            self.rate.requests,
            max(0, self.rate.requests - count),
            time.time() + left_ms / 1000,
        )

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= self._WARN_EVERY:
            self._warned_at = now
            log.warning("rate-limit store unreachable (%s); counting in this process meanwhile", type(exc).__name__)


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
