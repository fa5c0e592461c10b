"""Bounded load on a real server over loopback: 20 concurrent clients x 50 requests, 90% reads / 10% writes.

Run: .venv/bin/python benchmarks/server_load.py
Reports p50/p95/p99 latency in milliseconds and the error count (any status >= 400 or transport error).
"""

from __future__ import annotations

import asyncio
import random
import time

import httpx
from server_common import admin_headers, model, percentile, provider, running_server

CLIENTS, REQUESTS, WRITE_SHARE, SEED_PROVIDERS = 20, 50, 0.10, 20


def seed(base: str, headers: dict[str, str]) -> list[str]:
    ids = []
    with httpx.Client(base_url=base, headers=headers) as client:
        for index in range(SEED_PROVIDERS):
            created = client.post("/admin/providers", json=provider(f"seed-{index}")).json()
            ids.append(created["id"])
            for name in ("m-a", "m-b", "m-c"):
                client.post(f"/admin/providers/{created['id']}/models", json=model(name))
    return ids


async def one_client(
    base: str, headers: dict[str, str], ids: list[str], number: int
) -> tuple[list[tuple[str, float]], int]:
    rng = random.Random(number)
    latencies: list[tuple[str, float]] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for step in range(REQUESTS):
            target = rng.choice(ids)
            write = rng.random() < WRITE_SHARE
            path = rng.choice(["/admin/providers", f"/admin/providers/{target}", f"/admin/providers/{target}/models"])
            started = time.perf_counter()
            try:
                if write:
                    response = await client.put(f"/admin/providers/{target}", json={"name": f"renamed {number}-{step}"})
                else:
                    response = await client.get(path)
                errors += response.status_code >= 400
            except httpx.HTTPError:
                errors += 1
            kind = "first" if step == 0 else "write" if write else "read"
            latencies.append((kind, (time.perf_counter() - started) * 1000))
    return latencies, errors


async def load(base: str, headers: dict[str, str], ids: list[str]) -> None:
    started = time.perf_counter()
    results = await asyncio.gather(*(one_client(base, headers, ids, n) for n in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    samples = [sample for client_samples, _ in results for sample in client_samples]
    errors = sum(count for _, count in results)
    print(f"requests: {len(samples)} ({CLIENTS} clients x {REQUESTS}), {WRITE_SHARE:.0%} writes")
    # Every client opens its connection at once, so each one's first request waits behind the whole burst.
    for label, latencies in (
        ("all", [ms for _, ms in samples]),
        ("after each client's first", [ms for kind, ms in samples if kind != "first"]),
        ("reads", [ms for kind, ms in samples if kind == "read"]),
        ("writes", [ms for kind, ms in samples if kind == "write"]),
    ):
        p50, p95, p99 = (percentile(latencies, f) for f in (0.50, 0.95, 0.99))
        print(f"{label:>26}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms")
    print(f"errors: {errors}, throughput: {len(samples) / elapsed:.0f} req/s")


def main() -> None:
    with running_server() as base:
        headers = admin_headers(base)
        ids = seed(base, headers)
        asyncio.run(load(base, headers, ids))


if __name__ == "__main__":
    main()
