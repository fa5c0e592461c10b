"""JWT attacks, refresh rotation with reuse detection, logout, and the first-start admin."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from starlette.testclient import TestClient

from dpm_server import create_app, embedded_admin_token
from dpm_server.auth.tokens import TokenCodec
from tests.server.conftest import ADMIN_EMAIL, login, make_settings


def _signing_key(data_dir: Path) -> bytes:
    return (data_dir / "jwt.key").read_bytes().strip()


def _admin_id(client: TestClient) -> str:
    return str(login(client)["user"]["id"])


def _get(client: TestClient, token: str) -> int:
    return client.get("/api/admin/providers", headers={"Authorization": f"Bearer {token}"}).status_code


def test_login_by_user_name_or_email(client: TestClient) -> None:
    assert login(client, "admin")["user"]["username"] == "admin"
    assert login(client, ADMIN_EMAIL)["user"]["username"] == "admin"


@pytest.mark.parametrize(("username", "password"), [("admin", "wrong"), ("nobody", "your-admin-password")])
def test_bad_credentials_are_401_without_saying_which(client: TestClient, username: str, password: str) -> None:
    response = client.post("/api/auth/login", json={"username": username, "password": password})

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid username or password"


def test_missing_token_is_401(client: TestClient) -> None:
    response = client.get("/api/admin/providers")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_alg_none_is_refused(client: TestClient) -> None:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"sub": _admin_id(client), "jti": "x", "typ": "access", "iat": int(time.time()), "exp": 2**33}
    forged = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."

    assert _get(client, forged) == 401


def test_wrong_key_is_refused(client: TestClient) -> None:
    forged = TokenCodec(b"not-the-server-key-but-long-enough-for-hs256!!").mint(_admin_id(client), "access", 60)

    assert _get(client, forged.token) == 401


def test_expired_token_is_refused(client: TestClient, tmp_path: Path) -> None:
    claims = {"sub": _admin_id(client), "jti": "x", "typ": "access", "iat": 1, "exp": int(time.time()) - 10}

    assert _get(client, jwt.encode(claims, _signing_key(tmp_path), algorithm="HS256")) == 401


@pytest.mark.parametrize("missing", ["exp", "sub", "jti", "typ"])
def test_each_required_claim_is_required(client: TestClient, tmp_path: Path, missing: str) -> None:
    claims = {"sub": _admin_id(client), "jti": "x", "typ": "access", "iat": 1, "exp": int(time.time()) + 60}
    del claims[missing]

    assert _get(client, jwt.encode(claims, _signing_key(tmp_path), algorithm="HS256")) == 401


def test_refresh_token_is_not_an_access_token(client: TestClient) -> None:
    assert _get(client, login(client)["refreshToken"]) == 401


def test_access_token_is_not_a_refresh_token(client: TestClient) -> None:
    response = client.post("/api/auth/refresh", json={"refreshToken": login(client)["token"]})

    assert response.status_code == 401


def test_refresh_rotates(client: TestClient) -> None:
    first = login(client)

    second = client.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})

    assert second.status_code == 200
    assert second.json()["refreshToken"] != first["refreshToken"]
    assert _get(client, second.json()["token"]) == 200


def test_refresh_reuse_revokes_the_family(client: TestClient) -> None:
    stolen = login(client)["refreshToken"]
    rotated = client.post("/api/auth/refresh", json={"refreshToken": stolen}).json()["refreshToken"]

    reuse = client.post("/api/auth/refresh", json={"refreshToken": stolen})
    after = client.post("/api/auth/refresh", json={"refreshToken": rotated})

    assert reuse.status_code == 401
    assert after.status_code == 401  # the legitimate holder's newer token died with the family


def test_logout_revokes_the_refresh_token(client: TestClient) -> None:
    refresh = login(client)["refreshToken"]

    assert client.post("/api/auth/logout", json={"refreshToken": refresh}).status_code == 204
    assert client.post("/api/auth/refresh", json={"refreshToken": refresh}).status_code == 401


def test_no_admin_is_created_without_credentials(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, admin_username=None, admin_password=None))
    with TestClient(app) as client:
        response = client.post("/api/auth/login", json={"username": "admin", "password": "your-admin-password"})

    assert response.status_code == 401


def test_first_admin_is_created_only_once(tmp_path: Path) -> None:
    create_app(make_settings(tmp_path))
    app = create_app(make_settings(tmp_path, admin_password="a-different-password"))
    with TestClient(app) as client:
        assert login(client)["user"]["role"] == "admin"  # the first password still works


def test_embedded_admin_token_needs_no_credentials(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, admin_username=None, admin_password=None))
    token = embedded_admin_token(app)

    with TestClient(app) as client:
        assert _get(client, token) == 200
        password_login = client.post("/api/auth/login", json={"username": "dpm-embedded", "password": "x"})
        assert password_login.status_code == 401


def test_key_files_are_private(tmp_path: Path) -> None:
    create_app(make_settings(tmp_path))

    assert (tmp_path / "jwt.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_a_token_for_an_unknown_user_is_refused(client: TestClient, tmp_path: Path) -> None:
    ghost = TokenCodec(_signing_key(tmp_path)).mint("no-such-user", "access", 60)

    assert _get(client, ghost.token) == 401
