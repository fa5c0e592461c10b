"""With DPM_SERVER_RATE_LIMIT_STORAGE=redis://…, replicas share one rate-limit budget; without it, each keeps its own.

The shared tests run against the real redis-server that .ci/run starts (DPM_TEST_REDIS_URL).
"""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from dpm_server import Settings, create_app
from tests.server.conftest import ADMIN_EMAIL, make_settings


def _reset(response: object) -> datetime:
    header = response.headers["X-RateLimit-Reset"]  # type: ignore[attr-defined]
    return datetime.fromisoformat(header.replace("Z", "+00:00"))


@pytest.mark.redis
def test_two_replicas_share_one_budget(tmp_path: Path, redis_url: str) -> None:
    one = create_app(make_settings(tmp_path / "one", rate_limit="5/900", rate_limit_storage=redis_url))
    two = create_app(make_settings(tmp_path / "two", rate_limit="5/900", rate_limit_storage=redis_url))
    with TestClient(one) as a, TestClient(two) as b:
        responses = [client.get("/api/nowhere") for client in (a, b, a, b, a, b, a)]

    assert [r.status_code for r in responses] == [404] * 5 + [429, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["4", "3", "2", "1", "0", "0", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in responses} == {"5"}
    resets = [_reset(r) for r in responses]
    assert (max(resets) - min(resets)).total_seconds() <= 1  # one window, whichever replica answers
    assert 0 < int(responses[-1].headers["Retry-After"]) <= 900


@pytest.mark.redis
def test_failed_logins_count_across_replicas(tmp_path: Path, redis_url: str) -> None:
    bad = {"username": ADMIN_EMAIL, "password": "a wrong guess"}
    one = create_app(make_settings(tmp_path / "one", login_rate_limit="2/900", rate_limit_storage=redis_url))
    two = create_app(make_settings(tmp_path / "two", login_rate_limit="2/900", rate_limit_storage=redis_url))
    with TestClient(one) as a, TestClient(two) as b:
        attempts = [a.post("/api/auth/login", json=bad).status_code, b.post("/api/auth/login", json=bad).status_code]
        refused = a.post("/api/auth/login", json=bad)

    assert attempts == [401, 401]
    assert refused.status_code == 429


def test_without_redis_each_process_keeps_its_own_counts(tmp_path: Path) -> None:
    one = create_app(make_settings(tmp_path / "one", rate_limit="2/900"))
    two = create_app(make_settings(tmp_path / "two", rate_limit="2/900"))
    with TestClient(one) as a, TestClient(two) as b:
        statuses = [client.get("/api/nowhere").status_code for client in (a, a, b, b, a)]

    assert statuses == [404, 404, 404, 404, 429]


def test_an_unreachable_redis_falls_back_to_counts_in_this_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = make_settings(tmp_path, rate_limit="2/900", rate_limit_storage=f"redis://127.0.0.1:{port}/0")
    with TestClient(create_app(settings)) as client:
        statuses = [client.get("/api/nowhere").status_code for _ in range(3)]

    assert statuses == [404, 404, 429]
    assert "rate-limit store unreachable" in caplog.text


@pytest.mark.parametrize("storage", ["memcached://127.0.0.1", "127.0.0.1:6379", "redis:/x"])
def test_the_storage_must_be_memory_or_a_redis_url(storage: str) -> None:
    with pytest.raises(ValidationError, match="rate-limit storage"):
        Settings(rate_limit_storage=storage)


def test_memory_is_the_default_storage() -> None:
    assert Settings().rate_limit_storage is None
    assert Settings(rate_limit_storage="memory").rate_limit_storage is None
    assert (
        Settings.from_env({"DPM_SERVER_RATE_LIMIT_STORAGE": "redis://r:6379/1"}).rate_limit_storage
        == "redis://r:6379/1"
    )
