"""The registry client: the one place dpm talks HTTP (httpx), with auth, retries and rate-limit handling.

    RegistryError(DpmError)        the registry answered with an error envelope, or could not be reached
    └── RateLimitExceeded          a 429 whose window opens later than --max-wait allows

Requests are the scarce resource (the API allows 100 per 15 minutes), so the client counts them and keeps the
last rate-limit headers it saw. Connect errors are retried for any request (nothing reached the server);
502/503/504 and dropped responses only for idempotent ones. A 429 waits for the window, visibly, up to
``max_wait`` seconds. Any other 4xx is never retried. A 401 logs in again once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from dpm import redaction
from dpm.errors import DpmError

log = logging.getLogger("dpm.http")

RETRY_STATUSES = frozenset({502, 503, 504})
BACKOFF = (0.5, 1.0, 2.0, 4.0)
DEFAULT_MAX_WAIT = 15 * 60.0


_OBJECT_PATHS = {
    "model": "/admin/models/{}",
    "provider": "/admin/providers/{}",
    "template": "/admin/provider-templates/{}",
}


class RegistryError(DpmError):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        details: list[str] | None = None,
        hint: str | None = None,
        envelope: Mapping[str, Any] | None = None,
    ) -> None:
        """``envelope``: the registry's error object as it came, for callers that act on its contents."""
        text = message + "".join(f"\n    - {d}" for d in details or [])
        if request_id:
            text += f"\n    request id: {request_id}"
        super().__init__(text, hint)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.envelope: Mapping[str, Any] = envelope or {}

    def about(self, option: str) -> bool:
        """Whether this is a validation error of ``option`` (a dotted request path), such as an unknown option."""
        fields = [e.get("field") for e in self.envelope.get("validationErrors") or [] if isinstance(e, dict)]
        return self.status in {400, 422} and any(isinstance(f, str) and f.startswith(option) for f in fields)


class RateLimitExceeded(RegistryError):
    pass


@dataclass
class RateInfo:
    limit: int | None = None
    remaining: int | None = None
    reset: str | None = None


@dataclass
class Credentials:
    token: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        redaction.remember(self.token, "registry token")
        redaction.remember(self.password, "DPM_PASSWORD")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Credentials:
        return cls(environ.get("DPM_TOKEN"), environ.get("DPM_USERNAME"), environ.get("DPM_PASSWORD"))


def _wait(seconds: float, reason: str) -> None:
    log.warning("%s: waiting %.0fs", reason, seconds)
    time.sleep(seconds)


@dataclass
class RegistryClient:
    """A session with one registry. ``base_url`` is the API base, e.g. ``http://localhost:8000/api``."""

    base_url: str
    credentials: Credentials = field(default_factory=Credentials)
    http: httpx.Client | None = None
    max_wait: float = DEFAULT_MAX_WAIT
    wait: Callable[[float, str], None] = _wait  # shows the wait for a rate-limit window, and waits
    sleep: Callable[[float], None] = time.sleep  # backoff between retries
    requests: int = 0
    rate: RateInfo = field(default_factory=RateInfo)
    preconditions_supported: bool = True  # until the registry refuses them

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._token = self.credentials.token
        self._refresh_token: str | None = None
        self._waited = 0.0
        self._maybe_done = False

    @property
    def answer_lost(self) -> bool:
        """The last call was retried after an attempt whose answer was lost, which may have been carried out."""
        return self._maybe_done

    def close(self) -> None:
        if self.http is not None:
            self.http.close()

    # -- the API, as dpm uses it -------------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        body = {"includeModels": True, "includeTemplates": True}
        return self._json(self.call("POST", "/admin/providers/export", json=body, idempotent=True))

    def import_(
        self,
        data: Mapping[str, Any],
        conflict_resolution: str = "replace",
        preconditions: Sequence[Mapping[str, str]] = (),
    ) -> dict[str, Any]:
        """Import ``data``; with ``preconditions`` the registry writes nothing unless each still holds (412).

        A registry without the preconditions extension refuses the option; the import is then sent without it,
        once per session, with a warning, since an unguarded write is still what the user asked for.
        """
        options: dict[str, Any] = {"conflictResolution": conflict_resolution}
        if preconditions and self.preconditions_supported:
            options["preconditions"] = list(preconditions)
        body = {"data": data, "options": options}
        try:
            # Import matches entries by identifier, so sending it again after a lost answer creates nothing twice.
            return self._json(self.call("POST", "/admin/providers/import", json=body, idempotent=True))
        except RegistryError as exc:
            if "preconditions" not in options or not exc.about("options.preconditions"):
                raise
        self.preconditions_supported = False
        log.warning(
            "the registry does not support import preconditions: applying without them, so a change made by "
            "someone else since the plan was made can be overwritten"
        )
        return self.import_(data, conflict_resolution)

    def delete(self, kind: str, object_id: str, etag: str | None) -> None:
        """Delete a ``template``, ``provider`` or ``model`` by its registry id, only if it is still at ``etag``."""
        path = _OBJECT_PATHS[kind].format(object_id)
        self.call("DELETE", path, headers={"If-Match": etag} if etag else None, idempotent=True)

    def refresh_registry(self) -> dict[str, Any]:
        return self._json(self.call("POST", "/admin/providers/refresh-registry", idempotent=True))

    def test_provider(self, provider_id: str) -> dict[str, Any]:
        return self._json(self.call("POST", f"/admin/providers/{provider_id}/test", idempotent=True))

    def test_model(self, model_id: str) -> dict[str, Any]:
        return self._json(self.call("POST", f"/admin/models/{model_id}/test", idempotent=True))

    # -- transport ----------------------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
        authenticated: bool = True,
    ) -> httpx.Response:
        """One API call, with retries, rate-limit waits and one re-login; raises ``RegistryError``."""
        if authenticated and self._token is None and self.credentials.username:
            self.login()
        relogged = False
        attempt = 0
        self._maybe_done = False
        while True:
            response = self._send(
                method,
                path,
                json=json,
                headers=headers,
                idempotent=idempotent,
                attempt=attempt,
                authenticated=authenticated,
            )
            if response is None:
                attempt += 1
                continue
            if response.status_code == 429:
                self._wait_for_window(response)
                continue
            if response.status_code in RETRY_STATUSES and idempotent and attempt < len(BACKOFF):
                self._backoff(attempt, f"registry answered {response.status_code}")
                attempt += 1
                continue
            if response.status_code == 401 and authenticated and not relogged and self._can_relogin():
                relogged = True
                self.relogin()
                continue
            if response.is_error:
                raise _error(method, path, response, self.base_url)
            return response

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        headers: Mapping[str, str] | None,
        idempotent: bool,
        attempt: int,
        authenticated: bool,
    ) -> httpx.Response | None:
        if self.http is None:  # made on first use, by whichever thread reads (its TLS set-up is 20 ms of work)
            self.http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=False)
        sent = dict(headers or {})
        if authenticated and self._token:
            sent["Authorization"] = f"Bearer {self._token}"
        started = time.monotonic()
        try:
            self.requests += 1
            response = self.http.request(method, self.base_url + path, json=json, headers=sent)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self._retry_or_raise(exc, attempt, method, path)
            return None
        except httpx.TransportError as exc:
            if not idempotent:
                raise _unreachable(method, path, exc, "the request may or may not have been carried out") from None
            self._maybe_done = True  # the request was sent; only its answer was lost
            self._retry_or_raise(exc, attempt, method, path)
            return None
        elapsed = (time.monotonic() - started) * 1000
        request_id = response.headers.get("X-Request-ID", "-")
        log.debug("%s %s -> %s (%.0f ms, request %s)", method, path, response.status_code, elapsed, request_id)
        self._note_rate(response)
        return response

    def _retry_or_raise(self, exc: httpx.TransportError, attempt: int, method: str, path: str) -> None:
        if attempt >= len(BACKOFF):
            note = "an earlier attempt lost its answer and may have been carried out" if self._maybe_done else None
            raise _unreachable(method, path, exc, note) from None
        self._backoff(attempt, f"{type(exc).__name__} on {method} {path}")

    def _backoff(self, attempt: int, reason: str) -> None:
        log.info("%s; retrying in %.1fs", reason, BACKOFF[attempt])
        self.sleep(BACKOFF[attempt])

    def _note_rate(self, response: httpx.Response) -> None:
        headers = response.headers
        if "X-RateLimit-Limit" in headers:
            self.rate = RateInfo(
                _int(headers.get("X-RateLimit-Limit")),
                _int(headers.get("X-RateLimit-Remaining")),
                headers.get("X-RateLimit-Reset"),
            )

    def _wait_for_window(self, response: httpx.Response) -> None:
        seconds = _seconds_until_window(response)
        if self._waited + seconds > self.max_wait:
            opens = f"in {seconds:.0f}s" if seconds < 120 else f"in {seconds / 60:.0f} min"
            raise RateLimitExceeded(
                f"the registry's rate limit is exhausted and its window opens {opens}, beyond --max-wait "
                f"({self.max_wait:.0f}s)",
                status=429,
                code="RATE_LIMIT_EXCEEDED",
                request_id=response.headers.get("X-Request-ID"),
                hint="run again later, or raise --max-wait",
            )
        self.wait(seconds, "the registry's rate limit is exhausted")
        self._waited += seconds

    # -- credentials --------------------------------------------------------------------------------------------

    def _can_relogin(self) -> bool:
        return bool(self._refresh_token or self.credentials.username)

    def login(self) -> None:
        body = {"username": self.credentials.username, "password": self.credentials.password}
        response = self.call("POST", "/auth/login", json=body, authenticated=False)
        self._take_tokens(response)

    def relogin(self) -> None:
        """Refresh the access token once (rotating the refresh token), or log in again."""
        if self._refresh_token:
            try:
                body = {"refreshToken": self._refresh_token}
                self._take_tokens(self.call("POST", "/auth/refresh", json=body, authenticated=False))
                return
            except RegistryError:
                self._refresh_token = None
        if self.credentials.username:
            self.login()

    def _take_tokens(self, response: httpx.Response) -> None:
        body = self._json(response)
        self._token = body.get("token")
        self._refresh_token = body.get("refreshToken")
        redaction.remember(self._token, "registry token")
        redaction.remember(self._refresh_token, "refresh token")

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise RegistryError(f"the registry answered {response.status_code} with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise RegistryError(f"the registry answered {response.status_code} with JSON that is not an object")
        return body


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _seconds_until_window(response: httpx.Response) -> float:
    retry_after = response.headers.get("Retry-After")
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after)
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
            return max(0.0, (moment - datetime.now(UTC)).total_seconds())
        except ValueError:
            pass
    return 60.0


def _error(method: str, path: str, response: httpx.Response, base_url: str) -> RegistryError:
    hint = _HINTS.get(response.status_code)
    if response.status_code == 404 and path in _ALWAYS_ROUTED:
        hint = _api_base_hint(base_url)
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    request_id = (body.get("requestId") if isinstance(body, dict) else None) or response.headers.get("X-Request-ID")
    if not isinstance(error, dict):
        return RegistryError(
            f"{method} {path}: the registry answered {response.status_code}",
            status=response.status_code,
            request_id=request_id,
            hint=hint,
        )
    details = [
        f"{e.get('field')}: {e.get('message')}" for e in error.get("validationErrors") or [] if isinstance(e, dict)
    ]
    details += [f"suggestion: {s}" for s in error.get("suggestions") or []]
    return RegistryError(
        f"{method} {path}: {response.status_code} {error.get('code')}: {error.get('message')}",
        status=response.status_code,
        code=error.get("code"),
        request_id=request_id,
        details=details,
        hint=hint,
        envelope=error,
    )


_HINTS = {
    401: "set DPM_TOKEN, or DPM_USERNAME and DPM_PASSWORD, to an admin's credentials",
    403: "dpm needs a user with the admin role",
}


# Routes every registry serves: a 404 on one of them means the URL is not the API base.
_ALWAYS_ROUTED = frozenset({"/auth/login", "/admin/providers/export"})


def _api_base_hint(base_url: str) -> str:
    if not base_url.endswith("/api"):
        return f"the registry URL names the API base, which usually ends in /api: try {base_url}/api"
    return "the registry URL must name the API base, e.g. http://localhost:8000/api"


def _unreachable(method: str, path: str, exc: Exception, note: str | None) -> RegistryError:
    message = f"{method} {path}: cannot reach the registry: {type(exc).__name__}: {exc}"
    if note:
        message += f" ({note})"
    return RegistryError(message, hint="check --registry / DPM_REGISTRY_URL and that the registry is running")
