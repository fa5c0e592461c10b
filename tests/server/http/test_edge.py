"""The edge: envelopes for every status, body limits, content types, rate limits and proxies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from dpm_server import create_app
from tests.server import guide
from tests.server.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login, make_settings

ENVELOPE = {"error", "timestamp", "requestId"}


def _assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE
    assert body["error"]["code"] == code
    assert body["requestId"] == response.headers["X-Request-ID"]
    assert "Traceback" not in response.text
    return body


def test_malformed_json_is_400(admin: TestClient) -> None:
    response = admin.post(
        "/api/admin/providers", content=b'{"identifier": ', headers={"Content-Type": "application/json"}
    )

    _assert_envelope(response, 400, "INVALID_INPUT")


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42"])
def test_a_body_that_is_not_an_object_is_400(admin: TestClient, body: bytes) -> None:
    response = admin.post("/api/admin/providers", content=body, headers={"Content-Type": "application/json"})

    assert _assert_envelope(response, 400, "INVALID_INPUT")["error"]["message"] == "Request body must be a JSON object"


def test_wrong_content_type_is_415(admin: TestClient) -> None:
    response = admin.post(
        "/api/admin/providers", content=json.dumps(guide.PROVIDER), headers={"Content-Type": "text/plain"}
    )

    _assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_oversized_body_is_413(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, max_body_bytes=2048))) as client:
        client.headers["Authorization"] = f"Bearer {login(client)['token']}"
        body = guide.PROVIDER | {"description": "x" * 4096}

        declared = client.post("/api/admin/providers", json=body)
        streamed = client.post(
            "/api/admin/providers",
            content=iter([json.dumps(body).encode()]),
            headers={"Content-Type": "application/json"},
        )

    _assert_envelope(declared, 413, "PAYLOAD_TOO_LARGE")
    _assert_envelope(streamed, 413, "PAYLOAD_TOO_LARGE")


def test_unknown_route_and_method_use_the_envelope(admin: TestClient) -> None:
    _assert_envelope(admin.get("/api/nowhere"), 404, "NOT_FOUND")
    _assert_envelope(admin.patch("/api/admin/providers"), 405, "METHOD_NOT_ALLOWED")


def test_unexpected_errors_are_500_without_detail(admin: TestClient) -> None:
    app: FastAPI = admin.app  # type: ignore[assignment]

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("SELECT secret FROM providers -- /srv/app.py")

    response = admin.get("/api/boom")

    body = _assert_envelope(response, 500, "INTERNAL_ERROR")
    assert "SELECT" not in response.text
    assert "app.py" not in response.text
    assert body["error"]["message"].startswith("An unexpected error occurred")
    assert response.headers["X-RateLimit-Limit"]


def test_rate_limit_headers_on_every_response(admin: TestClient) -> None:
    for response in (admin.get("/api/admin/providers"), admin.get("/api/nowhere")):
        assert int(response.headers["X-RateLimit-Remaining"]) < int(response.headers["X-RateLimit-Limit"])
        reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
        assert reset > datetime.now(UTC)


def test_429_example_with_retry_after(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, rate_limit="3/900"))) as client:
        responses = [client.get("/api/admin/providers") for _ in range(4)]

    assert [r.status_code for r in responses] == [401, 401, 401, 429]
    body = _assert_envelope(responses[-1], 429, "RATE_LIMIT_EXCEEDED")
    assert 0 < int(responses[-1].headers["Retry-After"]) <= 900
    assert responses[-1].headers["X-RateLimit-Remaining"] == "0"
    assert body["error"]["details"]["limit"] == 3


def test_failed_logins_hit_the_stricter_limit(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, login_rate_limit="2/900"))) as client:
        bad = {"username": ADMIN_EMAIL, "password": "guess"}
        attempts = [client.post("/api/auth/login", json=bad).status_code for _ in range(3)]
        good = client.post("/api/auth/login", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})

    assert attempts == [401, 401, 429]
    assert good.status_code == 429


def test_forwarded_for_counts_only_from_trusted_proxies(tmp_path: Path) -> None:
    def remaining(client: TestClient, forwarded: str) -> int:
        response = client.get("/api/nowhere", headers={"X-Forwarded-For": forwarded})
        return int(response.headers["X-RateLimit-Remaining"])

    untrusted = create_app(make_settings(tmp_path / "a", rate_limit="10/900"))
    with TestClient(untrusted, client=("203.0.113.5", 1234)) as client:
        assert [remaining(client, ip) for ip in ("1.1.1.1", "2.2.2.2")] == [9, 8]  # spoofing gains nothing

    trusted = create_app(make_settings(tmp_path / "b", rate_limit="10/900", trusted_proxies="203.0.113.0/24"))
    with TestClient(trusted, client=("203.0.113.5", 1234)) as client:
        assert [remaining(client, ip) for ip in ("1.1.1.1", "2.2.2.2", "1.1.1.1")] == [9, 9, 8]


def test_a_clean_incoming_request_id_is_kept(admin: TestClient) -> None:
    kept = admin.get("/api/nowhere", headers={"X-Request-ID": "trace-42"})
    replaced = admin.get("/api/nowhere", headers={"X-Request-ID": "bad id<script>"})

    assert kept.headers["X-Request-ID"] == "trace-42"
    assert replaced.headers["X-Request-ID"].startswith("req-")
