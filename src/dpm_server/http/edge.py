"""The edge middleware, outermost in the app: request ids, rate limits, body limits, and the last-resort 500.

It is plain ASGI so that every response, including the ones it produces itself (400, 413, 415, 429, 500), carries
``X-Request-ID`` and the rate-limit headers, and so that no traceback can ever reach a client.

A body is read whole here, within its size limit (a few KiB on the auth routes), and its nesting depth, the size of
its objects and its text are checked before any route parses it; a large body is checked in a small pool of threads
at a lower CPU priority (``dpm_server.workers``), never on the event loop.
A login attempt is counted when it passes the edge, before the route checks the password, so concurrent attempts
can never check more passwords than the login limit allows; a successful login gives its attempt back.
The operations endpoints (``/healthz``, ``/readyz``, ``/metrics``) are outside the rate limit: a probe or a scraper
polls them from one address all day, and must neither spend a client's budget nor be refused when it is spent.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dpm_server.errors import ApiError, InternalError, PayloadTooLarge, RateLimited, UnsupportedMediaType
from dpm_server.http import bodies
from dpm_server.http.handlers import render
from dpm_server.http.ratelimit import Decision, IPNetwork, RateLimiter, client_ip
from dpm_server.logs import REQUEST_ID, get_logger
from dpm_server.workers import BackgroundPool

LOGIN_PATH = "/api/auth/login"
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
REFUSED = "refused_by"  # the request's state names the limit a 429 of the edge was refused under
AUTH_PREFIX = "/api/auth/"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_INLINE_CHECK_BYTES = 64 * 1024  # larger bodies are checked in the body-check pool
BODY_CHECKS_AT_ONCE = 2
log = get_logger("http")


@dataclass(frozen=True)
class BodyLimits:
    max_bytes: int
    max_auth_bytes: int
    max_depth: int
    max_keys: int


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        login_limiter: RateLimiter,
        trusted_proxies: Sequence[IPNetwork],
        body_checks: BackgroundPool,
        limits: BodyLimits,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.login_limiter = login_limiter
        self.trusted = trusted_proxies
        self.limits = limits
        self.body_checks = body_checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else f"req-{uuid.uuid4().hex[:16]}"
        peer = scope["client"][0] if scope.get("client") else None
        ip = client_ip(peer, headers.get("x-forwarded-for"), self.trusted)
        request_state = scope.setdefault("state", {})
        request_state.update(request_id=request_id, client_ip=ip)
        decision = None if scope["path"] in UNLIMITED_PATHS else await self.limiter.hit(ip)
        state: dict[str, Any] = {"status": None}
        extra = {**(decision.headers() if decision else {}), "X-Request-ID": request_id}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                response_headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    if name not in response_headers:  # a 429 brings the headers of the limit it hit
                        response_headers[name] = value
            await send(message)

        started = time.perf_counter()
        login = scope["path"] == LOGIN_PATH and scope["method"] == "POST"
        attempt = False
        logged = REQUEST_ID.set(request_id)
        try:
            error: ApiError | None = None
            if decision is not None and not decision.allowed:
                error, request_state[REFUSED] = _rate_limited(decision, "Too many requests"), "requests"
            if error is None:
                receive, error = await self._buffer_body(scope, receive, headers)
            if error is None and login:
                error, attempt = await self._count_attempt(ip)
                if error is not None:
                    request_state[REFUSED] = "logins"
            if error is not None:
                log.info("refused %s %s: %s [%s]", scope["method"], scope["path"], error.message, request_id)
                await render(error, request_id)(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error [%s]", request_id)
            if state["status"] is None:
                await render(InternalError(), request_id)(scope, receive, send_with_headers)
        finally:
            if attempt and state["status"] == 200:
                await self.login_limiter.release(ip)
            elapsed = (time.perf_counter() - started) * 1000
            log.debug(
                "%s %s -> %s in %.1fms [%s]", scope["method"], scope["path"], state["status"], elapsed, request_id
            )
            REQUEST_ID.reset(logged)

    async def _count_attempt(self, ip: str) -> tuple[ApiError | None, bool]:
        """Counts a login attempt before its password is checked: one atomic step, so a burst cannot overrun it."""
        attempts = await self.login_limiter.hit(ip)
        if not attempts.allowed:
            return _rate_limited(attempts, "Too many login attempts"), False
        return None, True

    async def _buffer_body(self, scope: Scope, receive: Receive, headers: Headers) -> tuple[Receive, ApiError | None]:
        """Reads the whole body (bodies are small JSON) so that its size, type, depth, keys and text are checked
        before any route; a large body is checked in the body-check pool, so that the event loop keeps serving."""
        if scope["method"] not in _BODY_METHODS:
            return receive, None
        limit = self.limits.max_auth_bytes if scope["path"].startswith(AUTH_PREFIX) else self.limits.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return receive, _too_large(limit)
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return receive, None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return receive, _too_large(limit)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and not _is_json(headers.get("content-type")):
            return receive, UnsupportedMediaType(
                "Request bodies must be JSON", suggestions=["Send the header Content-Type: application/json"]
            )
        if len(body) <= _INLINE_CHECK_BYTES:
            error = bodies.check(body, self.limits.max_depth, self.limits.max_keys)
        else:
            error = await self.body_checks.run(
                functools.partial(bodies.check, body, self.limits.max_depth, self.limits.max_keys)
            )
        return _replay(body, receive), error


def _rate_limited(decision: Decision, what: str) -> RateLimited:
    retry = decision.retry_after()
    return RateLimited(
        f"{what}; retry after {retry} seconds",
        details={"limit": decision.limit, "retryAfter": retry},
        headers={"Retry-After": str(retry), **decision.headers()},
    )


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes", details={"limit": limit})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
