"""One outbound HTTP call, behind the guard: pinned to the checked address, no redirects, capped in time and size.

- The guard resolves the host once; the connection goes to the address it checked (a custom httpcore network
  backend ignores the host name), while the request keeps the original ``Host`` header and TLS server name, so
  certificates are verified against the host name and DNS rebinding cannot move the call.
- The whole call, DNS lookup included, is limited to ``Policy.timeout`` seconds: every socket operation gets the
  time that is left, never more.
- A redirect is an error, never followed. A response body is read only for a 2xx answer, streamed, and abandoned
  at ``Policy.max_bytes``. Compressed bodies are not asked for and not accepted.
- No proxy from the environment is used (it would defeat the pinning).

Errors are ``OutboundError`` with a message fit for users and logs: it never contains a header value, a body, or
the URL's path and query (where some providers put keys).
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

from dpm_server.outbound.guard import AllowList, IPAddress, OutboundError, Resolve, Target, check

if TYPE_CHECKING:
    from dpm_server.settings import Settings

TIMEOUT_SETTING = "DPM_SERVER_OUTBOUND_TIMEOUT"
SIZE_SETTING = "DPM_SERVER_OUTBOUND_MAX_BYTES"
USER_AGENT = "dpm-registry"
# Headers the server sets itself; a provider's authConfig.headers cannot override them.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "accept-encoding"})
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Policy:
    allow: AllowList = field(default_factory=AllowList)
    timeout: float = 10.0
    max_bytes: int = 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            allow=AllowList.parse(settings.outbound_allow),
            timeout=settings.outbound_timeout,
            max_bytes=settings.outbound_max_bytes,
        )

    @property
    def time_limit(self) -> str:
        return f"the whole call is limited to {self.timeout:g} s ({TIMEOUT_SETTING})"

    @property
    def size_limit(self) -> str:
        return f"the {_size(self.max_bytes)} limit ({SIZE_SETTING})"


@dataclass(frozen=True)
class Reply:
    """An answer: the status, and the body for a 2xx answer (other bodies are never read)."""

    status: int
    body: bytes
    target: Target


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def clip(self, timeout: float | None) -> float:
        # Never 0: a socket timeout of 0 means non-blocking, not "already late".
        left = max(self.left(), 0.001)
        return left if timeout is None else min(timeout, left)


def fetch(
    policy: Policy,
    method: str,
    url: str,
    headers: dict[str, str],
    json_body: Any = None,
    *,
    resolve: Resolve | None = None,
) -> Reply:
    """Calls ``url`` if the guard admits it; raises ``OutboundError`` (``Refused`` for the guard's refusals)."""
    deadline = Deadline(policy.timeout)
    target = check(url, policy.allow, resolve or functools.partial(_system_resolve, policy, deadline))
    sent = {"Accept": "application/json", "User-Agent": USER_AGENT}
    sent |= {name: value for name, value in headers.items() if name.lower() not in RESERVED_HEADERS}
    sent["Accept-Encoding"] = "identity"
    transport = PinnedTransport(target, deadline)
    phase = f"connecting to {target.label}"
    try:
        with (
            httpx.Client(
                transport=transport, trust_env=False, follow_redirects=False, timeout=policy.timeout
            ) as client,
            client.stream(method, target.url, headers=sent, json=json_body) as response,
        ):
            phase = f"reading the answer from {target.label}"
            status = response.status_code
            if 300 <= status < 400:
                raise OutboundError(f"the provider answered with a redirect (HTTP {status}), which is not followed")
            if not 200 <= status < 300:
                return Reply(status, b"", target)
            return Reply(status, _read(response, policy), target)
    except httpx.TimeoutException as exc:
        raise OutboundError(f"timed out {_timeout_phase(exc, target, phase)}: {policy.time_limit}") from None
    except httpx.ConnectError as exc:
        raise OutboundError(_connect_failure(exc, target)) from None
    except httpx.RemoteProtocolError:
        raise OutboundError(f"{target.label} did not answer with valid HTTP") from None
    except httpx.ReadError:
        raise OutboundError(f"the connection to {target.label} broke before the answer was complete") from None
    except httpx.HTTPError as exc:
        raise OutboundError(f"the call to {target.label} failed ({type(exc).__name__})") from None


def _read(response: httpx.Response, policy: Policy) -> bytes:
    if response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        raise OutboundError("the provider sent a compressed answer although none was asked for")
    too_big = OutboundError(f"the provider's answer is larger than {policy.size_limit}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise too_big
    body = bytearray()
    for chunk in response.iter_raw(_CHUNK):
        body += chunk
        if len(body) > policy.max_bytes:
            raise too_big
    return bytes(body)


def _timeout_phase(exc: httpx.TimeoutException, target: Target, phase: str) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connecting to {target.label}"
    if isinstance(exc, httpx.WriteTimeout):
        return f"sending the request to {target.label}"
    if isinstance(exc, httpx.ReadTimeout) and phase.startswith("connecting"):
        return f"waiting for the answer from {target.label}"
    return phase


def _connect_failure(exc: BaseException, target: Target) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"the TLS certificate of {target.host} could not be verified"
        if isinstance(cause, ssl.SSLError):
            return f"the TLS handshake with {target.label} failed"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {target.label}"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return f"{target.label} is unreachable"
        cause = cause.__cause__ or cause.__context__
    return f"could not connect to {target.label}"


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count} bytes"


def _system_resolve(policy: Policy, deadline: Deadline, host: str, port: int) -> Sequence[IPAddress]:
    """``getaddrinfo`` within the time left: it has no timeout of its own, so it runs in a daemon thread."""
    found: list[Any] = []
    failed: list[BaseException] = []

    def lookup() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:
            failed.append(exc)

    worker = threading.Thread(target=lookup, name="dpm-outbound-dns", daemon=True)
    worker.start()
    worker.join(max(deadline.left(), 0.0))
    if worker.is_alive():
        raise OutboundError(f"timed out resolving {host}: {policy.time_limit}")
    if failed:
        error = failed[0]
        if isinstance(error, socket.gaierror) and error.errno in _NO_SUCH_HOST:
            raise OutboundError(f"could not resolve {host}: no such host")
        if isinstance(error, socket.gaierror) and error.errno == socket.EAI_AGAIN:
            raise OutboundError(f"could not resolve {host}: the DNS lookup failed temporarily")
        raise OutboundError(f"could not resolve {host} ({type(error).__name__})")
    return [ipaddress.ip_address(info[4][0]) for info in found if info[0] in (socket.AF_INET, socket.AF_INET6)]


_NO_SUCH_HOST = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport whose connections all go to ``target.address``, HTTP/1.1, no retries, no proxy."""

    def __init__(self, target: Target, deadline: Deadline) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=1,
            http1=True,
            http2=False,
            retries=0,
            network_backend=PinnedBackend(target, deadline),
        )


class PinnedBackend(httpcore.NetworkBackend):
    def __init__(self, target: Target, deadline: Deadline, inner: httpcore.NetworkBackend | None = None) -> None:
        self._target = target
        self._deadline = deadline
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        expected = self._target.url.raw_host.decode("ascii").lower()
        if host.lower() != expected or port != self._target.port:
            raise httpcore.ConnectError("the pinned transport only connects to the checked target")
        stream = self._inner.connect_tcp(
            str(self._target.address),
            port,
            timeout=self._deadline.clip(timeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("outbound calls never use Unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(self._deadline.left(), 0.0)))


class DeadlineStream(httpcore.NetworkStream):
    """Every read, write and TLS handshake gets at most the time left before the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.clip(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.clip(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, self._deadline.clip(timeout))
        return DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
