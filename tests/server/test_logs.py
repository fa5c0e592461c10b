"""``DPM_SERVER_LOG_FORMAT=json``: a real ``dpm serve`` writes one JSON object per line, uvicorn's lines included,
with the request id of the request each line is about; the text format stays the default."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from dpm_server import create_app, logs
from tests.server import guide
from tests.server.conftest import ADMIN_EMAIL, login, make_settings
from tests.server.outbound.fake_provider import FakeProvider
from tests.server.serving import Served, serving

KEYS = {"timestamp", "level", "logger", "message"}


def _records(text: str) -> list[dict[str, Any]]:
    """Every line parsed as JSON: a line that is not one JSON object fails the test."""
    records = []
    for line in text.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert set(record) >= KEYS, line
        records.append(record)
    return records


def _wait_for(served: Served, needle: str) -> str:
    deadline = time.monotonic() + 10
    while needle not in (log := served.log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return log


def test_dpm_serve_writes_json_lines_with_the_request_id(tmp_path: Path) -> None:
    env = {"DPM_SERVER_LOG_FORMAT": "json", "DEBUG": "dynamic-providers:*"}
    with serving(Served(tmp_path, extra_env=env)) as (served,):
        root = served.base.removesuffix("/api")
        assert httpx.get(f"{root}/healthz", headers={"X-Request-ID": "req-json-probe"}).status_code == 200
        wrong = {"username": ADMIN_EMAIL, "password": "not the password"}
        refused = httpx.post(f"{served.base}/auth/login", json=wrong, headers={"X-Request-ID": "req-json-login"})
        assert refused.status_code == 401
        log = _wait_for(served, "req-json-login")

    records = _records(log)
    by_id = {}
    for record in records:
        by_id.setdefault(record.get("requestId"), []).append(record)
    probe = by_id["req-json-probe"]
    assert {r["logger"] for r in probe} >= {"dynamic-providers:http", "uvicorn.access"}
    login_lines = by_id["req-json-login"]
    assert any(r["logger"] == "dynamic-providers:auth" and "failed login" in r["message"] for r in login_lines)
    started = [r for r in records if "requestId" not in r]
    assert any(r["logger"] == "uvicorn.error" and "Application startup complete" in r["message"] for r in started)
    assert any(r["message"].startswith("dpm registry on http://127.0.0.1:") for r in started)
    assert all(r["timestamp"].endswith("Z") and r["level"] in {"DEBUG", "INFO", "WARNING"} for r in records)
    assert "not the password" not in log


def test_text_stays_the_default(tmp_path: Path) -> None:
    with serving(Served(tmp_path)) as (served,):
        assert httpx.get(served.base.removesuffix("/api") + "/healthz").status_code == 200
        log = _wait_for(served, "GET /healthz")

    assert log.startswith("dpm registry on http://127.0.0.1:")
    with pytest.raises(json.JSONDecodeError):
        json.loads(log.splitlines()[0])


def test_lines_of_threadpool_routes_and_connectivity_tests_carry_their_request_id(
    tmp_path: Path, fake_provider: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sync routes run in the threadpool and tests in the connectivity pool: the request id follows them there."""
    settings = make_settings(tmp_path, log_format="json", debug="dynamic-providers:*", outbound_allow="127.0.0.1")
    try:
        with TestClient(create_app(settings)) as client:
            client.headers["Authorization"] = f"Bearer {login(client)['token']}"
            provider = client.post(
                "/api/admin/providers", json=guide.PROVIDER | {"apiEndpoint": f"{fake_provider.url}/v1"}
            ).json()
            capsys.readouterr()
            client.post(f"/api/admin/providers/{provider['id']}/test", headers={"X-Request-ID": "req-json-test"})
            client.post("/api/admin/providers/refresh-registry", headers={"X-Request-ID": "req-json-refresh"})
            lines = capsys.readouterr().err
    finally:
        logs.configure(None)  # back to the text format for the rest of the process

    records = _records(lines)
    tested = [r for r in records if r.get("requestId") == "req-json-test"]
    assert any("passed" in r["message"] for r in tested), tested
    refreshed = [r for r in records if r.get("requestId") == "req-json-refresh"]
    assert any(r["logger"] == "dynamic-providers:registry" for r in refreshed), refreshed


def test_a_record_with_a_newline_a_token_and_a_traceback_is_one_masked_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(None, "json")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logs.get_logger("http").exception("two\nlines with Authorization: Bearer sk-log-canary-93f1")
        err = capsys.readouterr().err
    finally:
        logs.configure(None)

    (record,) = _records(err)
    assert record["message"] == "two\nlines with Authorization: Bearer [REDACTED]"
    assert record["logger"] == "dynamic-providers:http"
    assert record["level"] == "ERROR"
    assert "ValueError: boom" in record["exception"]
    assert "requestId" not in record
    assert "sk-log-canary" not in err
