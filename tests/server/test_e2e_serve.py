"""End to end: the real ``serve`` command under uvicorn on a loopback port, driven over HTTP with httpx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import guide
from tests.server.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = os.environ | {
        "DPM_SERVER_DATA_DIR": str(tmp_path),
        "DPM_ADMIN_USERNAME": "admin",
        "DPM_ADMIN_EMAIL": ADMIN_EMAIL,
        "DPM_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    command = [sys.executable, "-m", "dpm_server", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            httpx.get(f"{base}/api/openapi.json", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


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
