"""Runs a request again when the database rolled its transaction back (PostgreSQL serialization failures and
deadlocks, SQLSTATE 40001/40P01), instead of answering 500.

Plain ASGI, inside the edge middleware: a retried request keeps its request id and counts once against the rate
limit. Routes do their database work before they answer, so a request is only retried while nothing has been sent;
its body is recorded on the first run and replayed on the next ones. Attempts are few and spaced with jitter, so
colliding writers do not collide again in step. When they run out, the client gets a 409 to retry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dpm_server.db.engine import RetryableTransaction
from dpm_server.errors import Conflict
from dpm_server.http.handlers import render
from dpm_server.logs import get_logger

log = get_logger("http")
ATTEMPTS = 4
BASE_DELAY = 0.02  # seconds; attempt n waits up to BASE_DELAY * 2**n


class RetryTransactions:
    def __init__(
        self,
        app: ASGIApp,
        *,
        attempts: int = ATTEMPTS,
        base_delay: float = BASE_DELAY,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.app = app
        self.attempts = attempts
        self.base_delay = base_delay
        self.jitter = jitter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        recorded: list[Message] = []
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        for attempt in range(1, self.attempts + 1):
            try:
                await self.app(scope, _replaying(recorded, receive), tracking_send)
                return
            except RetryableTransaction as exc:
                if started:
                    raise
                request_id = str(scope.get("state", {}).get("request_id", "unknown"))
                if attempt == self.attempts:
                    log.warning("%s after %d attempts, answering 409 [%s]", exc, attempt, request_id)
                    conflict = Conflict("The change collided with a concurrent change; retry the request")
                    await render(conflict, request_id)(scope, receive, send)
                    return
                log.info("%s, running the request again (attempt %d) [%s]", exc, attempt + 1, request_id)
                await asyncio.sleep(self.jitter(0, self.base_delay * 2**attempt))


def _replaying(recorded: list[Message], receive: Receive) -> Receive:
    """A receive that first replays what earlier attempts read, and records what it reads for later ones."""
    position = 0

    async def replay() -> Message:
        nonlocal position
        if position < len(recorded):
            position += 1
            return recorded[position - 1]
        message = await receive()
        if message["type"] == "http.request":
            recorded.append(message)
            position += 1
        return message

    return replay
