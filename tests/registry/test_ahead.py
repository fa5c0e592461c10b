"""Reading the registry ahead, on a thread, against scripted answers: the result and its cost come back to the
caller; errors are raised there; a rate-limit wait is left to the caller; a stopped read ends at its next pause."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dpm.registry.ahead import Ahead, reading
from dpm.registry.client import BACKOFF, Credentials, RegistryClient, RegistryError
from tests.registry.test_client import EXPORT, client_for, envelope, scripted


def export(client: RegistryClient) -> dict[str, object]:
    return client.export()


def test_the_read_runs_on_its_own_thread_and_its_result_and_cost_come_back() -> None:
    threads: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        threads.append(threading.current_thread().name)
        if request.url.path.endswith("/auth/login"):
            return httpx.Response(200, json={"token": "access-token-123", "refreshToken": "refresh-token-456"})
        return EXPORT

    client, _ = client_for(handle, credentials=Credentials(username="admin", password="admin-password"))
    client.requests = 7  # requests made before the read are not its cost
    with reading(client, export) as ahead:
        assert ahead.result()["data"] == {"providers": [], "models": [], "templates": []}
    assert threads == ["dpm-read-ahead", "dpm-read-ahead"]  # the login, then the export
    assert client.requests - ahead.requests_before == 2


def test_what_the_read_raised_is_raised_by_result_on_the_callers_thread() -> None:
    handler, _ = scripted(envelope(404, "NOT_FOUND", "No route for POST /admin/providers/export"))
    client, _ = client_for(handler, credentials=Credentials(token="token-1234567"))
    with reading(client, export) as ahead, pytest.raises(RegistryError) as raised:
        ahead.result()
    assert "404 NOT_FOUND" in raised.value.message


def test_a_read_that_would_wait_for_the_rate_limit_window_is_done_again_by_result_which_waits() -> None:
    opens = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    limited = envelope(429, "RATE_LIMIT_EXCEEDED", "Too many requests", retryAt=opens)
    handler, seen = scripted(limited, limited, EXPORT)
    waited_on: list[str] = []
    client = RegistryClient(
        "http://registry.test/api",
        Credentials(token="token-1234567"),
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        wait=lambda seconds, reason: waited_on.append(threading.current_thread().name),
    )
    with reading(client, export) as ahead:
        assert ahead.result()["data"]["providers"] == []
    # The thread met the 429 and stopped; the caller's read met it again and waited, visibly, on its own thread.
    assert waited_on == [threading.current_thread().name]
    assert len(seen) == 3
    assert client.requests - ahead.requests_before == 3


def test_stopping_a_read_ends_its_pause_between_retries() -> None:
    first = threading.Event()
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        first.set()
        return httpx.Response(503)

    client, _ = client_for(handle, credentials=Credentials(token="token-1234567"))
    wait, sleep, interval = client.wait, client.sleep, sys.getswitchinterval()
    ahead = Ahead(client, export)
    assert first.wait(10)
    ahead.stop()  # the config turned out invalid
    assert sys.getswitchinterval() == interval
    assert (client.wait, client.sleep) == (wait, sleep)
    time.sleep(BACKOFF[0] + 0.5)
    assert len(seen) == 1  # not retried after its first pause: the read ended there


def test_a_read_left_unused_is_stopped_at_the_end_of_the_block() -> None:
    handler, seen = scripted(EXPORT)
    client, _ = client_for(handler, credentials=Credentials(token="token-1234567"))
    sleep, interval = client.sleep, sys.getswitchinterval()
    with reading(client, export):
        pass  # nobody asks for the result
    assert len(seen) <= 1
    assert (client.sleep, sys.getswitchinterval()) == (sleep, interval)
