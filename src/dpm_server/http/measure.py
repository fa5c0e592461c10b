"""The metrics middleware, outside the edge (present only when metrics are on): counts and times every answer,
the edge's own refusals included, by route template and status.

The template is the one the router matched (``/api/admin/providers/{id}``), never the path the client sent. A
request the router never saw (the edge refused it) is matched against the routes here, so that a 429 still counts
under its route; a path no route matches counts as ``unmatched``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dpm_server.http.edge import REFUSED
from dpm_server.metrics import UNMATCHED, Metrics


class Measure:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees when nothing was sent: the server closed the connection on an error
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(scope["method"], self._route(scope), status, time.perf_counter() - started)
            refused = scope.get("state", {}).get(REFUSED)
            if refused:
                self.metrics.refused(refused)

    def _route(self, scope: Scope) -> str:
        route: Any = scope.get("route")
        if route is not None:
            return str(route.path)
        for candidate in self.routes:
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                return str(getattr(candidate, "path", UNMATCHED))
        return UNMATCHED
