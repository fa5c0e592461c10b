"""Edges through the real ``dpm`` against a real ``dpm serve``: each ends in a diagnostic, never an internal error."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ADMIN, SECRETS, Server, clean_environment, run_dpm


def test_a_registry_url_without_api_gets_a_hint_on_the_login_route(server: Server, config_repo: Path) -> None:
    root = server.url.removesuffix("/api")
    env = clean_environment(DPM_REGISTRY_URL=root, **ADMIN, **SECRETS)
    result = run_dpm("plan", cwd=config_repo, env=env)
    assert result.exit_code == 1
    assert "dpm: error: POST /auth/login: 404 NOT_FOUND: No route for POST /auth/login" in result.err
    assert f"hint: the registry URL names the API base, which usually ends in /api: try {root}/api" in result.err
    assert ADMIN["DPM_PASSWORD"] not in result.out + result.err


def test_a_registry_url_without_api_gets_a_hint_on_the_export_route(server: Server, config_repo: Path) -> None:
    root = server.url.removesuffix("/api")
    token = server.admin_headers()["Authorization"].removeprefix("Bearer ")
    env = clean_environment(DPM_REGISTRY_URL=root, DPM_TOKEN=token, **SECRETS)
    result = run_dpm("plan", cwd=config_repo, env=env)
    assert result.exit_code == 1
    assert "dpm: error: POST /admin/providers/export: 404 NOT_FOUND" in result.err
    assert f"try {root}/api" in result.err
    assert token not in result.out + result.err


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1/api", "an IPv6 host must be enclosed in [ ]"),
        ("http://", "it names no host"),
        ("http://127.0.0.1:99999/api", "the port must be a number from 1 to 65535"),
        ("http://127.0.0.1 :8000/api", "it contains a space or a control character"),
    ],
)
def test_a_malformed_registry_url_is_a_usage_error(url: str, problem: str, config_repo: Path) -> None:
    result = run_dpm("plan", "--registry", url, cwd=config_repo, env=clean_environment(**ADMIN, **SECRETS))
    assert result.exit_code == 1
    assert result.err.splitlines() == [
        f"dpm: error: registry URL {url!r} is malformed: {problem}",
        "    hint: name the API base, e.g. http://localhost:8000/api",
    ]


def test_a_non_finite_price_never_reaches_the_registry(server: Server, config_repo: Path) -> None:
    path = config_repo / "providers.d" / "openai.yaml"
    path.write_text(path.read_text().replace("inputTokenPrice: 0.00015,", "inputTokenPrice: .inf,"))
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN, **SECRETS)
    result = run_dpm("apply", "--auto-approve", "-v", cwd=config_repo, env=env)
    assert result.exit_code == 1
    assert "inputTokenPrice: Input should be a finite number, got number inf" in result.out + result.err
    # Refused before any write: the registry was only read, while the config compiled.
    assert [line.split(" -> ")[0] for line in result.err.splitlines() if " -> " in line] == [
        "dpm: POST /auth/login",
        "dpm: POST /admin/providers/export",
    ]
    listed = httpx.get(f"{server.url}/admin/providers", headers=server.admin_headers()).json()
    assert listed["pagination"]["total"] == 0
    assert "internal error" not in result.err
