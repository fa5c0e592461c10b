"""The cost per request of the metrics middleware (``dpm_server.http.measure``), measured in-process.

A minimal ASGI endpoint is called directly, N times, bare and wrapped in ``Measure``: the difference is what the
middleware adds to each request (one counter, one histogram observation, the status hook). Two cases: a request the
router matched (the template is in the scope), and one the router never saw (an edge refusal: the middleware
matches the template against the app's routes itself).

    .venv/bin/python benchmarks/server_metrics.py [--requests 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from dpm_server import Settings, create_app
from dpm_server.http.measure import Measure
from dpm_server.metrics import Metrics


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


async def per_request(app: Any, scope: dict[str, Any], requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), _receive, _send)
    return (time.perf_counter() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50_000)
    requests = parser.parse_args().requests
    with tempfile.TemporaryDirectory() as data:
        served = create_app(Settings(data_dir=Path(data), metrics=True))
    routes: list[Route] = next(m.kwargs["routes"] for m in served.user_middleware if m.cls is Measure)
    measured = Measure(endpoint, metrics=Metrics(), routes=routes)
    matched = {"type": "http", "method": "GET", "path": "/api/admin/providers/x", "root_path": "", "headers": []}
    matched["route"] = next(r for r in routes if getattr(r, "path", "") == "/api/admin/providers/{id}")
    refused = {key: value for key, value in matched.items() if key != "route"}

    bare = asyncio.run(per_request(endpoint, matched, requests))
    with_route = asyncio.run(per_request(measured, matched, requests))
    with_matching = asyncio.run(per_request(measured, refused, requests))
    print(f"requests per case: {requests}")
    for label, seconds in (
        ("bare endpoint", bare),
        ("measured, template from the router", with_route),
        ("measured, template matched here", with_matching),
    ):
        print(f"{label:<36} {seconds * 1e6:7.2f} µs  (+{(seconds - bare) * 1e6:.2f} µs)")


if __name__ == "__main__":
    main()
