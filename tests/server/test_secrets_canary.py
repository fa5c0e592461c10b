"""A canary API key goes in through every door, and must come out of none: not a body, not a log, not the file."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dpm_server import create_app
from tests.server import guide
from tests.server.conftest import login, make_settings

CANARY = "sk-canary-7f3a9c1e5b2d4f6a8c0e"


def _with_canary(**changes: object) -> dict[str, object]:
    body = copy.deepcopy(guide.PROVIDER) | changes
    body["authConfig"]["fields"] = {"apiKey": CANARY, "clientSecretToken": CANARY}  # type: ignore[index]
    return body


def _exercise(client: TestClient) -> list[str]:
    """Sends the canary in good and bad requests; returns every response body."""
    json_header = {"Content-Type": "application/json"}
    created = client.post("/api/admin/providers", json=_with_canary())
    provider_id = created.json()["id"]
    bad_header = _with_canary(identifier="other")
    bad_header["authConfig"]["headers"] = {"Authorization": f"Bearer {CANARY}"}  # type: ignore[index]
    wrong_type = _with_canary(identifier="third")
    wrong_type["authConfig"]["headers"] = {"X-Key": 5}  # type: ignore[index]
    responses = [
        created,
        client.put(f"/api/admin/providers/{provider_id}", json={"authConfig": _with_canary()["authConfig"]}),
        client.post("/api/admin/providers", json=bad_header),
        client.post("/api/admin/providers", json=wrong_type),
        client.post("/api/admin/providers", json=_with_canary(apiKey=CANARY)),
        client.post("/api/admin/providers", json={"authConfig": {"apiKey": CANARY}}),
        client.post("/api/admin/providers", content=f'{{"apiKey": "{CANARY}"', headers=json_header),
        client.post("/api/admin/providers", content=json.dumps(_with_canary()), headers={"Content-Type": "text/plain"}),
        client.post(
            "/api/admin/provider-templates/openai-template/apply",
            json={"identifier": "from-template", "name": "T", "customizations": {"apiKey": CANARY}},
        ),
        client.post(
            "/api/admin/provider-templates/openai-template/apply",
            json={"identifier": "Bad Id", "name": "T", "customizations": {"apiKey": CANARY}},
        ),
        client.post("/api/admin/providers/import", json={"data": {"providers": [_with_canary(identifier="imp")]}}),
        client.post("/api/admin/providers/import", json={"data": {"providers": [_with_canary(name=None)]}}),
        client.post("/api/auth/login", json={"username": "admin", "password": CANARY}),
        client.get("/api/admin/providers"),
        client.get(f"/api/admin/providers/{provider_id}"),
        client.post("/api/admin/providers/export", json={"includeTemplates": True}),
    ]
    assert created.status_code == 201
    return [r.text + json.dumps(dict(r.headers)) for r in responses]


def test_canary_never_leaves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(make_settings(tmp_path, debug="dynamic-providers:*"))
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {login(client)['token']}"
        bodies = _exercise(client)
        backup = client.post("/api/admin/providers/export", json={"includeSecrets": True}).text
    app.state.context.db.dispose()

    assert CANARY in backup  # the one door that opens, on purpose: an admin's full backup
    assert not [body for body in bodies if CANARY in body]
    assert caplog.records
    assert CANARY not in caplog.text
    out, err = capfd.readouterr()
    assert "dynamic-providers:http" in err
    assert CANARY not in out + err
    for path in tmp_path.glob("registry.db*"):
        assert CANARY.encode() not in path.read_bytes(), path.name


def test_tokens_are_masked_in_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(make_settings(tmp_path, debug="dynamic-providers:*"))) as client:
        token = login(client)["token"]
        logging.getLogger("dpm_server.http").debug("header was Bearer %s", token)

    assert token not in caplog.text
    assert "Bearer [REDACTED]" in caplog.text
