"""Export time for 1,000 providers x 10 models, over loopback against a real server.

Run: .venv/bin/python benchmarks/server_export.py
Seeds through one import request, then times five exports (the guide's body) and reports each and the median.
"""

from __future__ import annotations

import statistics
import time

import httpx
from server_common import admin_headers, model, provider, running_server

PROVIDERS, MODELS_PER_PROVIDER, RUNS = 1000, 10, 5


def seed_document() -> dict[str, object]:
    providers = [provider(f"bench-{index:04d}") for index in range(PROVIDERS)]
    models = [
        model(f"model-{number}", f"bench-{index:04d}")
        for index in range(PROVIDERS)
        for number in range(MODELS_PER_PROVIDER)
    ]
    return {"data": {"providers": providers, "models": models}}


def main() -> None:
    with running_server() as base, httpx.Client(base_url=base, timeout=300) as client:
        client.headers.update(admin_headers(base))
        started = time.perf_counter()
        imported = client.post("/admin/providers/import", json=seed_document())
        imported.raise_for_status()
        print(f"import of {PROVIDERS} providers x {MODELS_PER_PROVIDER} models: {time.perf_counter() - started:.2f} s")
        timings = []
        for _ in range(RUNS):
            started = time.perf_counter()
            response = client.post("/admin/providers/export", json={"includeModels": True, "includeTemplates": False})
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        size = len(response.content) / 1e6
        print(f"export ({size:.1f} MB): " + ", ".join(f"{t:.0f}" for t in timings) + " ms")
        print(f"median export time: {statistics.median(timings):.0f} ms")


if __name__ == "__main__":
    main()
