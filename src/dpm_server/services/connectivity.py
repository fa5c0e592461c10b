"""Connectivity tests (``POST /api/admin/providers/{id}/test`` and ``POST /api/admin/models/{id}/test``).

Real calls to the provider, through the outbound guard (``dpm_server.outbound``), in one of two styles:

- OpenAI-compatible: a provider test lists the models (``GET {apiEndpoint}/models``); a model test asks for a
  one-token chat completion (``POST {apiEndpoint}/chat/completions``).
- Anthropic (the provider's headers include ``x-api-key``): ``GET {apiEndpoint}/models`` and a one-token
  ``POST {apiEndpoint}/messages``, with ``anthropic-version`` added when the headers lack it. An Anthropic
  endpoint without a path (``https://api.anthropic.com``) means its ``/v1``.

``authConfig.testEndpoint``, when set, replaces the model list in a provider test: any 2xx answer passes, and its
models are reported when the body is a model list. Headers are the provider's ``authConfig.headers`` with their
``{{field}}`` placeholders filled from the decrypted ``authConfig.fields``.

The answer is always 200 with ``{success, responseTime, availableModels?, errors, testedAt}``; it is stored as
``lastTested``/``testResult``. A test is not a configuration change: the etag and the registry revision stay.
No database transaction is open during the call, and nothing from the provider's answer but model ids is kept.

Tests run in a pool of threads of their own (``ConnectivityPool``), never in the threadpool that serves ordinary
requests, so a slow provider cannot make other requests wait. The pool runs at most
``DPM_SERVER_CONNECTIVITY_TESTS`` tests at once per process; a test beyond that is refused at once with 429 and a
``Retry-After`` of the outbound time limit, the longest a running test can take, instead of waiting in a queue.
"""

from __future__ import annotations

import asyncio
import functools
import http
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from dpm.resources.rules import PLACEHOLDER
from dpm.resources.secrets import REDACTED
from dpm_server.db.tables import Model, Provider, utcnow
from dpm_server.errors import RateLimited
from dpm_server.logs import get_logger
from dpm_server.outbound.client import Policy, fetch
from dpm_server.outbound.guard import OutboundError
from dpm_server.services.common import load
from dpm_server.views import provider_auth, timestamp
from dpm_server.workers import BackgroundPool

if TYPE_CHECKING:
    from dpm_server.context import AppContext
    from dpm_server.secretbox import SecretBox
    from dpm_server.settings import Settings

ANTHROPIC_VERSION = "2023-06-01"
PROMPT = "Reply with one word."
_log = get_logger("registry")
_HEADER_NAME = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
POOL_SETTING = "DPM_SERVER_CONNECTIVITY_TESTS"


class ConnectivityPool:
    """At most ``size`` connectivity tests at once, in threads of their own; one more is refused, not queued."""

    def __init__(self, size: int, retry_after: float) -> None:
        self.size = size
        self.retry_after = max(1, math.ceil(retry_after))
        self._threads = BackgroundPool("dpm-connectivity", size, lower_priority=False)
        self._slots = threading.BoundedSemaphore(size)

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectivityPool:
        return cls(settings.connectivity_tests, settings.outbound_timeout)

    async def run(self, test: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if not self._slots.acquire(blocking=False):
            raise RateLimited(
                f"The connectivity test budget is busy: {self.size} tests are running ({POOL_SETTING}); "
                f"retry after {self.retry_after} seconds",
                details={"limit": self.size, "retryAfter": self.retry_after},
                headers={"Retry-After": str(self.retry_after)},
            )
        try:
            future = self._threads.submit(test)
        except BaseException:
            self._slots.release()
            raise
        # The slot is free when the test ends, not when its caller stops waiting (a client that hangs up).
        future.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Lets running tests finish on their own; the app may start again (a new lifespan) and test again."""
        self._threads.close()


async def pooled_provider_test(context: AppContext, *, provider_id: str) -> dict[str, Any]:
    """``run_provider_test`` in the connectivity pool."""
    return await _pooled(context, "provider", functools.partial(run_provider_test, context, provider_id=provider_id))


async def pooled_model_test(context: AppContext, *, model_id: str) -> dict[str, Any]:
    """``run_model_test`` in the connectivity pool."""
    return await _pooled(context, "model", functools.partial(run_model_test, context, model_id=model_id))


async def _pooled(context: AppContext, target: str, test: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Runs ``test`` in the pool, and counts its outcome (or the pool's refusal) when metrics are on."""
    try:
        result = await context.connectivity.run(test)
    except RateLimited:
        if context.metrics is not None:
            context.metrics.refused("connectivity")
        raise
    if context.metrics is not None:
        context.metrics.tested(target, bool(result.get("success")))
    return result


class _Unusable(Exception):
    """The stored configuration cannot make a request; the message is the test's error."""


@dataclass(frozen=True)
class _Call:
    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    expect: str  # "models", "chat", "message", or "any" (a testEndpoint)


def run_provider_test(context: AppContext, *, provider_id: str) -> dict[str, Any]:
    with context.db.read() as session:
        row = load(session, Provider, provider_id, "Provider")
        label = f"provider {row.identifier}"
        try:
            auth, headers, style = _prepare(row, context.box)
            test_endpoint = auth.get("testEndpoint")
            if isinstance(test_endpoint, str) and test_endpoint:
                call: _Call | str = _Call("GET", test_endpoint, headers, None, "any")
            else:
                call = _Call("GET", _join(row.api_endpoint, "models", style), headers, None, "models")
        except _Unusable as exc:
            call = str(exc)
    result = _run(call, Policy.from_settings(context.settings), label)
    with context.db.write() as session:
        row = load(session, Provider, provider_id, "Provider")
        row.last_tested, row.test_result = result.pop("_moment"), result
    return result


def run_model_test(context: AppContext, *, model_id: str) -> dict[str, Any]:
    with context.db.read() as session:
        model = load(session, Model, model_id, "Model")
        provider = load(session, Provider, model.provider_id, "Provider")
        label = f"model {provider.identifier}/{model.identifier}"
        try:
            _, headers, style = _prepare(provider, context.box)
            tail, expect = ("messages", "message") if style == "anthropic" else ("chat/completions", "chat")
            call: _Call | str = _Call(
                "POST", _join(provider.api_endpoint, tail, style), headers, _one_token(model), expect
            )
        except _Unusable as exc:
            call = str(exc)
    result = _run(call, Policy.from_settings(context.settings), label)
    with context.db.write() as session:
        row = load(session, Model, model_id, "Model")
        row.last_tested, row.test_result = result.pop("_moment"), result
    return result


def _one_token(model: Model) -> dict[str, Any]:
    """The smallest request both styles accept: one user message, at most one token back."""
    return {"model": model.identifier, "max_tokens": 1, "messages": [{"role": "user", "content": PROMPT}]}


def _prepare(row: Provider, box: SecretBox) -> tuple[dict[str, Any], dict[str, str], str]:
    """The clear authConfig, the headers to send, and the style (``openai`` or ``anthropic``)."""
    try:
        auth = box.open(provider_auth(row))
    except RuntimeError as exc:  # the secret key changed; the message says so and holds no secret
        raise _Unusable(str(exc)) from None
    headers = _headers(auth)
    lowered = {name.lower() for name in headers}
    style = "anthropic" if "x-api-key" in lowered else "openai"
    if style == "anthropic" and "anthropic-version" not in lowered:
        headers["anthropic-version"] = ANTHROPIC_VERSION
    return auth, headers, style


def _headers(auth: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, Any] = auth.get("fields") or {}
    headers: dict[str, str] = {}
    for name, template in (auth.get("headers") or {}).items():
        if not name or not set(name) <= _HEADER_NAME or not isinstance(template, str):
            raise _Unusable(f"the header {name!r} is not a valid HTTP header")

        def fill(match: Any, header: str = name) -> str:
            value = fields.get(match[1])
            if value is None or value in ("", REDACTED):
                raise _Unusable(f"the header {header!r} uses {{{{{match[1]}}}}}, which has no value")
            return value if isinstance(value, str) else json.dumps(value)

        value = PLACEHOLDER.sub(fill, template)
        if not all(" " <= char <= "~" or char == "\t" for char in value):
            raise _Unusable(f"the header {name!r} holds characters an HTTP header cannot carry")
        headers[name] = value
    return headers


def _join(base: str, tail: str, style: str) -> str:
    try:
        url = httpx.URL(base)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise _Unusable("the provider's apiEndpoint is not a valid URL") from None
    path = url.path.rstrip("/")
    if style == "anthropic" and not path:
        path = "/v1"
    return str(url.copy_with(path=f"{path}/{tail}"))


def _run(call: _Call | str, policy: Policy, label: str) -> dict[str, Any]:
    started = time.monotonic()
    errors: list[str] = []
    models: list[str] | None = None
    if isinstance(call, str):
        errors.append(call)
    else:
        try:
            reply = fetch(policy, call.method, call.url, call.headers, call.body)
            models = _judge(call.expect, reply.status, reply.body, errors)
        except OutboundError as exc:
            errors.append(str(exc))
    moment = utcnow()
    result: dict[str, Any] = {"success": not errors, "responseTime": int((time.monotonic() - started) * 1000)}
    if models is not None:
        result["availableModels"] = models
    result |= {"errors": errors, "testedAt": timestamp(moment)}
    _log.info(
        "connectivity test of %s: %s in %d ms%s",
        label,
        "passed" if result["success"] else "failed",
        result["responseTime"],
        "".join(f"; {error}" for error in errors),
    )
    return result | {"_moment": moment}


def _judge(expect: str, status: int, body: bytes, errors: list[str]) -> list[str] | None:
    """Appends what is wrong with an answer to ``errors``; returns the models it lists, if it lists them."""
    if status in (401, 403):
        errors.append(f"the provider rejected the credentials (HTTP {status})")
        return None
    if not 200 <= status < 300:
        try:
            phrase = f" ({http.HTTPStatus(status).phrase})"
        except ValueError:
            phrase = ""
        errors.append(f"the provider answered HTTP {status}{phrase}")
        return None
    try:
        document: Any = json.loads(body)
    except (ValueError, RecursionError):
        if expect != "any":
            errors.append("the provider's answer is not JSON")
        return None
    if expect == "any":
        return _model_ids(document)
    if expect == "models":
        models = _model_ids(document)
        if models is None:
            errors.append("the provider's answer is not a model list (an object with a 'data' array of models)")
        return models
    key, what = ("choices", "a chat completion") if expect == "chat" else ("content", "a message")
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        errors.append(f"the provider's answer is not {what} (an object with a '{key}' array)")
    return None


def _model_ids(document: Any) -> list[str] | None:
    """The ids of an OpenAI/Anthropic model list (``data[].id``) or an Ollama one (``models[].name``)."""
    if not isinstance(document, dict):
        return None
    for key, name in (("data", "id"), ("models", "name")):
        entries = document.get(key)
        if isinstance(entries, list) and all(isinstance(e, dict) and isinstance(e.get(name), str) for e in entries):
            return [entry[name] for entry in entries]
    return None
