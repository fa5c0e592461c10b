"""A rate-limit budget shared by replicas, kept in Redis (``DPM_SERVER_RATE_LIMIT_STORAGE=redis://…``).

A Lua script counts and starts the window's expiry in one atomic step, and answers the count with the time left in
the window. The redis client is the ``redis`` extra: this module is imported only when a Redis storage is configured.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from redis import RedisError
from redis.asyncio import BlockingConnectionPool, Redis

from dpm_server.http.ratelimit import Decision, MemoryRateLimiter
from dpm_server.logs import get_logger
from dpm_server.settings import Rate

log = get_logger("http")


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
