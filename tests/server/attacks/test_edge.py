"""Attacks on the edge of ``dpm serve``: login bursts, hostile bodies, forged claims, file modes, slow upstreams.

Each test re-runs one case of the server-hardening attack run (or a variant of it) against the real app: a real
``dpm serve`` on loopback where concurrency matters, real JWTs signed with the server's key, real files.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.server.serving import Served, serving

ENVELOPE = {"error", "timestamp", "requestId"}
WRONG = {"username": ADMIN_EMAIL, "password": "a wrong guess"}
RIGHT = {"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE
    assert body["error"]["code"] == code
    assert body["requestId"] == response.headers["X-Request-ID"]
    return body


async def _burst(base: str, bodies: list[dict[str, str]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        return list(await asyncio.gather(*(client.post("/auth/login", json=body) for body in bodies)))


# --- 1. The login limit under concurrency -----------------------------------------------------------------------


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limiter_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "memory":
        return {}
    return {"DPM_SERVER_RATE_LIMIT_STORAGE": request.getfixturevalue("redis_url")}


def test_a_burst_of_150_wrong_passwords_checks_at_most_10(tmp_path: Path, limiter_env: dict[str, str]) -> None:
    with serving(Served(tmp_path / "server", extra_env=limiter_env)) as (server,):
        responses = asyncio.run(_burst(server.base, [WRONG] * 150))
        after = httpx.post(f"{server.base}/auth/login", json=RIGHT)

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) == {401, 429}
    assert statuses[401] <= 10  # the default login limit: passwords checked
    for refused in (r for r in responses if r.status_code == 429):
        _error(refused, 429, "RATE_LIMIT_EXCEEDED")
        assert 0 < int(refused.headers["Retry-After"]) <= 900
    # The right password inside the spent budget is refused before it is checked.
    _error(after, 429, "RATE_LIMIT_EXCEEDED")


def test_the_right_password_inside_a_burst_is_checked_only_within_the_budget(
    tmp_path: Path, limiter_env: dict[str, str]
) -> None:
    with serving(Served(tmp_path / "server", extra_env=limiter_env)) as (server,):
        responses = asyncio.run(_burst(server.base, [WRONG] * 20 + [RIGHT] + [WRONG] * 20))

    statuses = Counter(r.status_code for r in responses)
    assert statuses[401] + statuses[200] <= 10
    assert statuses[200] + statuses[429] + statuses[401] == len(responses)


def test_a_successful_login_gives_its_attempt_back(tmp_path: Path, limiter_env: dict[str, str]) -> None:
    env = limiter_env | {"DPM_SERVER_LOGIN_RATE_LIMIT": "3/900"}
    with serving(Served(tmp_path / "server", extra_env=env)) as (server,):
        good = [httpx.post(f"{server.base}/auth/login", json=RIGHT).status_code for _ in range(5)]
        bad = [httpx.post(f"{server.base}/auth/login", json=WRONG).status_code for _ in range(4)]
        refused = httpx.post(f"{server.base}/auth/login", json=RIGHT)

    assert good == [200] * 5
    assert bad == [401, 401, 401, 429]
    _error(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert "Retry-After" in refused.headers
