"""Attacks on the edge of ``dpm serve``: login bursts, hostile bodies, forged claims, file modes, slow upstreams.

Each test re-runs one case of the server-hardening attack run (or a variant of it) against the real app: a real
``dpm serve`` on loopback where concurrency matters, real JWTs signed with the server's key, real files.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.testclient import TestClient

from dpm_server import create_app
from tests.server import guide
from tests.server.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login, make_settings
from tests.server.outbound.fake_provider import FakeProvider
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


def test_a_burst_of_150_wrong_passwords_checks_at_most_10(
    tmp_path: Path, database_url: str | None, limiter_env: dict[str, str]
) -> None:
    with serving(Served(tmp_path / "server", database_url, limiter_env)) as (server,):
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


# --- 2 and 4. Hostile bodies ------------------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}
MAX_DEPTH = 32  # the default DPM_SERVER_MAX_JSON_DEPTH


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One admin client for the refusals that never reach storage (the edge answers them before any route)."""
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("edge")))) as test_client:
        test_client.headers["Authorization"] = f"Bearer {login(test_client)['token']}"
        yield test_client


def _hostile_login(size: int = 16 * 1024 * 1024) -> bytes:
    """A login body of ``size`` bytes: the credentials and some 880,000 unknown keys."""
    head = json.dumps(RIGHT)[:-1].encode()
    count = (size - len(head) - 1) // 19
    keys = b"".join(b',"key%07d":"vvv"' % n for n in range(count))
    return head + keys + b" " * (size - len(head) - len(keys) - 1) + b"}"


def _chunks(body: bytes, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _nested(levels: int, kind: str) -> bytes:
    if kind == "arrays":
        return b"[" * levels + b"1" + b"]" * levels
    return b'{"a":' * levels + b"1" + b"}" * levels


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_16_mb_login_body_is_413_with_a_small_answer(edge: TestClient, streamed: bool) -> None:
    body = _hostile_login()
    content: bytes | Iterator[bytes] = _chunks(body) if streamed else body

    response = edge.post("/api/auth/login", content=content, headers=JSON)

    assert len(body) == 16 * 1024 * 1024
    assert body.count(b'"key') > 880_000
    assert _error(response, 413, "PAYLOAD_TOO_LARGE")["error"]["details"] == {"limit": 4096}
    assert len(response.content) < 1024


@pytest.mark.parametrize("route", ["/api/auth/login", "/api/auth/refresh", "/api/auth/logout"])
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_auth_routes_take_a_few_kib_only(edge: TestClient, route: str, streamed: bool) -> None:
    body = json.dumps({"refreshToken": "x" * 4096, **RIGHT}).encode()
    content: bytes | Iterator[bytes] = _chunks(body, 1000) if streamed else body

    response = edge.post(route, content=content, headers=JSON)

    _error(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_login_body_within_the_limit_still_logs_in(edge: TestClient) -> None:
    body = json.dumps(RIGHT).encode() + b" " * (4096 - len(json.dumps(RIGHT)))

    assert len(body) == 4096
    assert edge.post("/api/auth/login", content=body, headers=JSON).status_code == 200


@pytest.mark.parametrize("kind", ["arrays", "objects"])
@pytest.mark.parametrize("levels", [33, 1_000, 10_000, 100_000])
def test_deep_nesting_is_400_on_admin_routes(
    edge: TestClient, kind: str, levels: int, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"identifier": "deep", "metadata": ' + _nested(levels, kind) + b"}"

    with caplog.at_level(logging.INFO, logger="dpm_server.http"):
        response = edge.post("/api/admin/providers", content=body, headers=JSON)

    error = _error(response, 400, "INVALID_INPUT")["error"]
    assert error["message"] == f"Request body nests deeper than {MAX_DEPTH} levels of arrays and objects"
    assert error["details"] == {"maxDepth": MAX_DEPTH}
    assert "nests deeper" in caplog.text
    assert response.headers["X-Request-ID"] in caplog.text


@pytest.mark.parametrize("kind", ["arrays", "objects"])
def test_deep_nesting_on_login_never_reaches_a_parser(edge: TestClient, kind: str) -> None:
    small = edge.post("/api/auth/login", content=_nested(600, kind), headers=JSON)
    large = edge.post("/api/auth/login", content=_nested(10_000, kind), headers=JSON)

    _error(small, 400, "INVALID_INPUT")
    _error(large, 413, "PAYLOAD_TOO_LARGE")  # the size limit answers first


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 20_000,  # never closed
        b"{" * 20_000,
        b'{"a": ' * 5_000,
        b"[" * 20_000 + b"}" * 20_000,  # closed by the wrong brackets
    ],
)
def test_unbalanced_deep_bodies_are_400(edge: TestClient, body: bytes) -> None:
    _error(edge.post("/api/admin/providers", content=body, headers=JSON), 400, "INVALID_INPUT")


def test_a_chunked_deep_body_is_400(edge: TestClient) -> None:
    response = edge.post("/api/admin/providers/import", content=_chunks(_nested(50_000, "arrays"), 4096), headers=JSON)

    _error(response, 400, "INVALID_INPUT")


def test_brackets_inside_strings_are_not_nesting(admin: TestClient) -> None:
    body = guide.PROVIDER | {"identifier": "brackets", "description": '[[[{{{"\\' * 100}

    response = admin.post("/api/admin/providers", json=body)

    assert response.status_code == 201, response.text
    assert response.json()["description"] == body["description"]


@pytest.mark.parametrize(("levels", "status"), [(MAX_DEPTH, 201), (MAX_DEPTH + 1, 400)])
def test_nesting_just_under_and_over_the_limit(admin: TestClient, levels: int, status: int) -> None:
    # An import entry's free-form object takes any depth the edge lets through; the body and the providers list
    # are two levels, the provider a third.
    inner = json.loads(_nested(levels - 3, "objects"))
    body = {"providers": [guide.PROVIDER | {"identifier": f"depth-{levels}", "x": inner}]}

    response = admin.post("/api/admin/providers/import", json=body)

    assert response.status_code != 500
    if status == 400:
        _error(response, 400, "INVALID_INPUT")
    else:
        assert response.status_code in (200, 201, 422), response.text


def test_the_depth_limit_is_a_setting(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, max_json_depth=4))) as client:
        client.headers["Authorization"] = f"Bearer {login(client)['token']}"
        deep = client.post("/api/admin/providers", content=_nested(5, "arrays"), headers=JSON)
        shallow = client.post("/api/admin/providers", content=_nested(4, "arrays"), headers=JSON)

    assert _error(deep, 400, "INVALID_INPUT")["error"]["details"] == {"maxDepth": 4}
    assert shallow.status_code == 400
    assert "nests deeper" not in shallow.text


MAX_KEYS = 1000  # the default DPM_SERVER_MAX_JSON_KEYS


def test_a_template_with_200k_unknown_keys_is_400_with_a_small_answer(edge: TestClient) -> None:
    config = {"apiEndpoint": "https://api.example.com/v1"} | {f"unknownKey{n:06d}": n for n in range(200_000)}

    response = edge.post("/api/admin/provider-templates", json={"name": "wide", "providerConfig": config})

    error = _error(response, 400, "INVALID_INPUT")["error"]
    assert error["message"] == f"Request body has an object with more than {MAX_KEYS} keys"
    assert error["details"] == {"maxKeys": MAX_KEYS}
    assert len(response.content) < 1024


@pytest.mark.parametrize(("keys", "refused"), [(MAX_KEYS, False), (MAX_KEYS + 1, True)])
def test_keys_just_under_and_over_the_limit(edge: TestClient, keys: int, refused: bool) -> None:
    fields = {f"field{n}": "x" for n in range(keys - 1)} | {"apiKey": "sk-x"}
    body = guide.PROVIDER | {"identifier": f"wide-{keys}"}
    body["authConfig"] = body["authConfig"] | {"fields": fields}

    response = edge.post("/api/admin/providers", json=body)

    assert ("more than 1000 keys" in response.text) == refused
    assert response.status_code != 500


# --- 5. Token claims --------------------------------------------------------------------------------------------

HUGE = [2**63, 10**20, 253_402_300_800, 1e308, float("inf")]
NOT_A_TIME = ["9999999999", "soon", 1.5, True, None, [], {"at": 1}, -1, float("nan")]


def _token(data_dir: Path, typ: str = "access", **claims: Any) -> str:
    """A JWT signed with the server's own key: a valid token unless ``claims`` spoil it (None removes a claim)."""
    key = (data_dir / "jwt.key").read_bytes().strip()
    now = int(time.time())
    user = claims.pop("user", None)
    payload: dict[str, Any] = {"sub": user, "jti": "a" * 32, "typ": typ, "iat": now, "exp": now + 600}
    if typ == "refresh":
        payload["fam"] = "f" * 32
    payload |= {name: value for name, value in claims.items() if value is not _REMOVE}
    payload = {name: value for name, value in payload.items() if claims.get(name) is not _REMOVE}
    return jwt.encode(payload, key, algorithm="HS256")


_REMOVE = object()


@pytest.fixture
def signed(client: TestClient, settings: Any) -> tuple[TestClient, Path, str]:
    """The client, the data dir that holds the server's signing key, and the admin's user id (both databases)."""
    return client, settings.data_dir, str(login(client)["user"]["id"])


@pytest.fixture(scope="module")
def forger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path, str]]:
    """The same for the refusals, which are decided before any lookup: one SQLite server for the module."""
    data_dir = tmp_path_factory.mktemp("forger")
    with TestClient(create_app(make_settings(data_dir))) as test_client:
        yield test_client, data_dir, str(login(test_client)["user"]["id"])


def _as_access(client: TestClient, token: str | bytes) -> httpx.Response:
    header = token if isinstance(token, str) else token.decode("latin-1")
    return client.get("/api/admin/providers", headers={"Authorization": f"Bearer {header}".encode("latin-1")})


def test_a_well_formed_token_signed_with_the_server_key_is_accepted(signed: tuple[TestClient, Path, str]) -> None:
    client, data_dir, user = signed

    assert _as_access(client, _token(data_dir, user=user)).status_code == 200
    assert _as_access(client, _token(data_dir, user=user, exp=253_402_300_799)).status_code == 200  # year 9999


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", HUGE + NOT_A_TIME, ids=repr)
def test_out_of_range_or_mistyped_times_are_401(forger: tuple[TestClient, Path, str], claim: str, value: Any) -> None:
    client, data_dir, user = forger

    response = _as_access(client, _token(data_dir, user=user, **{claim: value}))

    _error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": 123},
        {"sub": None},
        {"sub": ["admin"]},
        {"sub": {"id": 1}},
        {"sub": ""},
        {"sub": "a\x00b"},
        {"sub": "x" * 10_000},
        {"sub": "' OR 1=1 --"},
        {"jti": 5},
        {"jti": "\x00"},
        {"jti": _REMOVE},
        {"exp": _REMOVE},
        {"iat": _REMOVE},
        {"typ": "refresh"},
        {"typ": 1},
        {"iat": 10**12},  # issued in the future
        {"nbf": 10**12},
    ],
    ids=repr,
)
def test_malformed_claims_are_401(forger: tuple[TestClient, Path, str], claims: dict[str, Any]) -> None:
    client, data_dir, user = forger
    claims = {"sub": user} | claims
    claims["user"] = claims.pop("sub")

    _error(_as_access(client, _token(data_dir, **claims)), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "claims",
    [{"exp": 2**63}, {"exp": "9999999999"}, {"iat": float("inf")}, {"fam": 5}, {"fam": _REMOVE}, {"jti": ["x"]}],
    ids=repr,
)
@pytest.mark.parametrize("route", ["/api/auth/refresh", "/api/auth/logout"])
def test_malformed_refresh_tokens_are_401(
    signed: tuple[TestClient, Path, str], claims: dict[str, Any], route: str
) -> None:
    client, data_dir, user = signed

    response = client.post(route, json={"refreshToken": _token(data_dir, "refresh", user=user, **claims)})

    _error(response, 401, "UNAUTHORIZED")


def test_a_payload_that_is_not_an_object_is_401(forger: tuple[TestClient, Path, str]) -> None:
    client, data_dir, _ = forger
    key = (data_dir / "jwt.key").read_bytes().strip()
    token = jwt.api_jws.encode(b"[1, 2, 3]", key, algorithm="HS256")

    _error(_as_access(client, token), 401, "UNAUTHORIZED")
    _error(_as_access(client, "a.b.c"), 401, "UNAUTHORIZED")
    _error(_as_access(client, "\u00e9".encode("latin-1") * 50), 401, "UNAUTHORIZED")


# --- 8. File modes ----------------------------------------------------------------------------------------------


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Umask 0: without explicit modes every new file would be readable, and writable, by everyone."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_data_files_are_private_whatever_the_umask(tmp_path: Path, database_url: str | None) -> None:
    data_dir = tmp_path / "nested" / "data"
    with TestClient(create_app(make_settings(data_dir, database_url=database_url))) as client:
        login(client)  # a write: the WAL and shared-memory files exist while the app runs
        files = sorted(data_dir.iterdir())
        modes = {path.name: _mode(path) for path in files}

    assert _mode(data_dir) == 0o700
    expected = {".gitignore", "jwt.key", "secret.key"} | (
        {"registry.db", "registry.db-wal", "registry.db-shm"} if not database_url else set()
    )
    assert set(modes) == expected
    assert set(modes.values()) == {0o600}


def test_looser_existing_files_are_warned_about_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data_dir = tmp_path / "data"
    with TestClient(create_app(make_settings(data_dir))) as client:
        login(client)
    loose = [data_dir / "registry.db", data_dir / "jwt.key", data_dir / "secret.key"]
    for path in loose:
        path.chmod(0o644)
    data_dir.chmod(0o755)
    (data_dir / "registry.db-wal").touch(0o666)

    with caplog.at_level(logging.WARNING, logger="dpm_server"), TestClient(create_app(make_settings(data_dir))):
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    for path in loose:
        assert f"{path} has mode 0644: other users of this machine may read it; run chmod 600 {path}" in warnings
    assert f"{data_dir} has mode 0755: other users of this machine may read it; run chmod 700 {data_dir}" in warnings
    assert any(str(data_dir / "registry.db-wal") in w for w in warnings)
    assert _mode(data_dir / "jwt.key") == 0o644  # warned about, not changed behind the operator's back
    assert not any((data_dir / "jwt.key").read_text().strip() in w for w in warnings)


# --- 9. Slow upstreams ------------------------------------------------------------------------------------------


def test_connectivity_tests_beyond_the_pool_are_429_and_never_hold_up_other_requests(
    tmp_path: Path, database_url: str | None, fake_provider: FakeProvider
) -> None:
    fake_provider.mode, fake_provider.drip_pause = "drip", 1.0  # a byte a second, until the time limit
    env = {
        "DPM_SERVER_OUTBOUND_ALLOW": "127.0.0.1",
        "DPM_SERVER_OUTBOUND_TIMEOUT": "4",
        "DPM_SERVER_CONNECTIVITY_TESTS": "2",
    }
    with serving(Served(tmp_path / "server", database_url, env)) as (server,):
        headers = server.admin_headers()
        body = guide.PROVIDER | {"identifier": "dripping", "apiEndpoint": f"{fake_provider.url}/v1"}
        created = httpx.post(f"{server.base}/admin/providers", json=body, headers=headers)
        assert created.status_code == 201, created.text
        held, listing, answers = asyncio.run(_tests_and_a_listing(server.base, headers, created.json()["id"], 6))

    assert listing.status_code == 200
    assert listing.json()["pagination"]["total"] >= 1
    assert held == 2  # the listing was answered while both admitted tests were still held by the upstream
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 2, 429: 4}
    for answer in answers:
        if answer.status_code == 200:
            assert answer.json()["success"] is False
            assert answer.json()["errors"][0].startswith("timed out")
        else:
            error = _error(answer, 429, "RATE_LIMIT_EXCEEDED")["error"]
            assert error["message"].startswith("The connectivity test budget is busy")
            assert answer.headers["Retry-After"] == "4"  # the longest a running test can take


async def _tests_and_a_listing(
    base: str, headers: dict[str, str], provider_id: str, count: int
) -> tuple[int, httpx.Response, list[httpx.Response]]:
    limits = httpx.Limits(max_connections=count + 1)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        tests = [asyncio.create_task(client.post(f"/admin/providers/{provider_id}/test")) for _ in range(count)]
        for _ in range(200):  # the refusals come at once; the admitted tests wait on the upstream
            if sum(task.done() for task in tests) == count - 2:
                break
            await asyncio.sleep(0.05)
        listing = await client.get("/admin/providers")
        held = sum(not task.done() for task in tests)
        return held, listing, list(await asyncio.gather(*tests))
