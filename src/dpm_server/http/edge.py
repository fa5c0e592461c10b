"""The edge middleware, outermost in the app: request ids, rate limits, body limits, and the last-resort 500.

It is plain ASGI so that every response, including the ones it produces itself (413, 415, 429, 500), carries
``X-Request-ID`` and the rate-limit headers, and so that no traceback can ever reach a client.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dpm_server.errors import ApiError, InternalError, InvalidInput, PayloadTooLarge, RateLimited, UnsupportedMediaType
from dpm_server.http.handlers import render
from dpm_server.http.ratelimit import Decision, IPNetwork, RateLimiter, client_ip
from dpm_server.logs import get_logger

LOGIN_PATH = "/api/auth/login"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = get_logger("http")


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
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.login_limiter = login_limiter
        self.trusted = trusted_proxies
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else f"req-{uuid.uuid4().hex[:16]}"
        peer = scope["client"][0] if scope.get("client") else None
        ip = client_ip(peer, headers.get("x-forwarded-for"), self.trusted)
        scope.setdefault("state", {}).update(request_id=request_id, client_ip=ip)
        decision = await self.limiter.hit(ip)
        state: dict[str, Any] = {"status": None}
        extra = {**decision.headers(), "X-Request-ID": request_id}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                response_headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    if name not in response_headers:  # a 429 brings the headers of the limit it hit
                        response_headers[name] = value
            await send(message)

        started = time.perf_counter()
        login = scope["path"] == LOGIN_PATH
        try:
            error = await self._refusal(decision, ip, login)
            if error is None:
                receive, error = await self._buffer_body(scope, receive, headers)
            if error is not None:
                await render(error, request_id)(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error [%s]", request_id)
            if state["status"] is None:
                await render(InternalError(), request_id)(scope, receive, send_with_headers)
        finally:
            if login and state["status"] == 401:
                await self.login_limiter.hit(ip)
            elapsed = (time.perf_counter() - started) * 1000
            log.debug(
                "%s %s -> %s in %.1fms [%s]", scope["method"], scope["path"], state["status"], elapsed, request_id
            )

    async def _refusal(self, decision: Decision, ip: str, login: bool) -> ApiError | None:
        if not decision.allowed:
            return _rate_limited(decision, "Too many requests")
        if login:
            attempts = await self.login_limiter.peek(ip)
            if not attempts.allowed or attempts.remaining == 0:
                return _rate_limited(attempts, "Too many failed login attempts")
        return None

    async def _buffer_body(self, scope: Scope, receive: Receive, headers: Headers) -> tuple[Receive, ApiError | None]:
        """Reads the whole body (bodies are small JSON) so that its size and type are checked before any route."""
        if scope["method"] not in _BODY_METHODS:
            return receive, None
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return receive, _too_large(self.max_body)
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return receive, None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return receive, _too_large(self.max_body)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and not _is_json(headers.get("content-type")):
            return receive, UnsupportedMediaType(
                "Request bodies must be JSON", suggestions=["Send the header Content-Type: application/json"]
            )
        return _replay(body, receive), _unreadable(body)


def _unreadable(body: bytes) -> ApiError | None:
    """Bodies that would parse as JSON yet break later: bytes that are not UTF-8, or unpaired surrogates."""
    try:
        body.decode("utf-8")
        if _SURROGATE_ESCAPE.search(body):
            json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        return InvalidInput("Request body must be UTF-8 JSON without unpaired surrogates")
    except ValueError:
        return None  # not JSON at all: the route answers that, with the usual message
    return None


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
