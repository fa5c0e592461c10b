"""End to end: the real ``serve`` command under uvicorn on a loopback port, driven over HTTP with httpx."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import guide
from tests.server.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.server.serving import Served, serving


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The standalone entry point, ``python -m dpm_server serve``; the other tests start ``dpm serve``."""
    default_limit = {"DPM_SERVER_RATE_LIMIT": "100/900"}  # the default, which the headers below must show
    standalone = Served(tmp_path, extra_env=default_limit, program=(sys.executable, "-m", "dpm_server"))
    with serving(standalone) as (running,):
        yield running.base.removesuffix("/api")


def test_serve_answers_the_guide_over_loopback(server: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=f"{server}/api") as client:
        token = client.post("/auth/login", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"

        created = client.post("/admin/providers", json=guide.PROVIDER)
        listed = client.get("/admin/providers")
        missing = client.get("/admin/providers/nope")

    assert created.status_code == 201
    assert listed.json()["pagination"]["total"] == 1
    assert listed.headers["X-RateLimit-Limit"] == "100"
    assert missing.status_code == 404
    assert missing.json()["requestId"] == missing.headers["X-Request-ID"]
    assert (tmp_path / "registry.db").exists()
