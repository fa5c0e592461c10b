"""Shared by the server benchmarks: run ``dpm_server serve`` on a loopback port in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import httpx

ADMIN = {"username": "admin", "password": "benchmark-password"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(extra_env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Yields the API base URL of a fresh server with a raised rate limit (and ``extra_env``); stops it afterwards."""
    with server_process(extra_env) as (base, _):
        yield base


@contextmanager
def server_process(extra_env: Mapping[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """``running_server``, yielding its process id as well, for measuring the server's own CPU time."""
    with tempfile.TemporaryDirectory(prefix="dpm-bench-") as data_dir:
        port = free_port()
        env = os.environ | {
            "DPM_SERVER_DATA_DIR": data_dir,
            "DPM_SERVER_RATE_LIMIT": "100000000/60",
            "DPM_ADMIN_USERNAME": ADMIN["username"],
            "DPM_ADMIN_PASSWORD": ADMIN["password"],
            **(extra_env or {}),
        }
        command = [sys.executable, "-m", "dpm_server", "serve", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}/api"
        try:
            _wait(base, process)
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60  # a server on PostgreSQL migrates its database first
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}")
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def admin_headers(base: str) -> dict[str, str]:
    token = httpx.post(f"{base}/auth/login", json=ADMIN).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def provider(identifier: str) -> dict[str, object]:
    return {
        "identifier": identifier,
        "name": f"Provider {identifier}",
        "description": "benchmark provider",
        "apiEndpoint": "https://api.example.com/v1",
        "authMethod": "api_key",
        "authConfig": {
            "type": "api_key",
            "fields": {"apiKey": f"sk-{identifier}"},
            "headers": {"Authorization": "Bearer {{apiKey}}"},
        },
        "capabilities": {
            "supportsSystemMessages": True,
            "maxContextLength": 128000,
            "supportedRoles": ["system", "user", "assistant"],
            "supportsStreaming": True,
            "supportsTools": True,
        },
    }


def model(identifier: str, provider_identifier: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "identifier": identifier,
        "name": identifier.upper(),
        "contextLength": 8192,
        "capabilities": {
            "supportsSystemMessages": True,
            "maxContextLength": 8192,
            "supportedRoles": ["system", "user", "assistant"],
            "supportsStreaming": True,
            "supportsTools": True,
            "supportsFunctionCalling": True,
        },
        "pricingInfo": {"inputTokenPrice": 0.01, "outputTokenPrice": 0.03, "currency": "USD"},
    }
    if provider_identifier:
        body["providerIdentifier"] = provider_identifier
    return body


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def read_while(client: httpx.AsyncClient, keep_going: Callable[[], bool], latencies: list[float]) -> None:
    """``GET /admin/providers`` back to back while ``keep_going()``, each latency appended in milliseconds."""
    while keep_going():
        started = time.perf_counter()
        response = await client.get("/admin/providers")
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
