"""Latency of ordinary requests while hostile requests are being answered, on a real server over loopback.

Run: .venv/bin/python benchmarks/server_hostile.py [--clients 4] [--repeat 10]

A fresh server is seeded with 20 providers. Then, for a baseline and for each kind of hostile request, ``--clients``
asyncio clients send ``GET /admin/providers`` back to back while a hostile process (forked, so that its sending
does not slow the measuring clients' interpreter) sends ``--repeat`` hostile requests one after the other; the GET
clients stop when it is done. Reports, per kind, what the hostile requests got (status, answer size, time to
answer) and the GET latency (p50 / p95 / max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from server_common import ADMIN, admin_headers, percentile, provider, read_while, running_server

JSON = {"Content-Type": "application/json"}
SIXTEEN_MIB = 16 * 1024 * 1024


def login_body(size: int = SIXTEEN_MIB) -> bytes:
    """The right credentials plus some 880,000 unknown keys: 16 MiB."""
    head = json.dumps(ADMIN)[:-1].encode()
    count = (size - len(head) - 1) // 19
    keys = b"".join(b',"key%07d":"vvv"' % n for n in range(count))
    return head + keys + b" " * (size - len(head) - len(keys) - 1) + b"}"


def nested(levels: int) -> bytes:
    return b'{"identifier": "deep", "x": ' + b"[" * levels + b"]" * levels + b"}"


def template_body(unknown_keys: int = 200_000) -> bytes:
    config = {"apiEndpoint": "https://api.example.com/v1", "authMethod": "api_key"}
    config |= {f"unknownKey{n:06d}": n for n in range(unknown_keys)}
    return json.dumps({"name": "Hostile template", "providerConfig": config}).encode()


def chunks(body: bytes, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@dataclass
class Outcome:
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)


def send(client: httpx.Client, outcome: Outcome, request: Callable[[httpx.Client], httpx.Response]) -> None:
    started = time.perf_counter()
    try:
        response = request(client)
        outcome.statuses[str(response.status_code)] += 1
        outcome.sizes.append(len(response.content))
    except httpx.HTTPError as exc:  # e.g. the server answered and closed while the body was still being sent
        outcome.statuses[type(exc).__name__] += 1
    outcome.seconds.append(time.perf_counter() - started)


def login_burst(base: str, count: int = 150) -> Callable[[httpx.Client], httpx.Response]:
    wrong = {"username": ADMIN["username"], "password": "a wrong guess"}

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            return list(await asyncio.gather(*(client.post("/auth/login", json=wrong) for _ in range(count))))

    def request(_client: httpx.Client) -> httpx.Response:
        responses = asyncio.run(burst())
        statuses = Counter(r.status_code for r in responses)
        print(f"    burst of {count}: {dict(sorted(statuses.items()))}")
        return responses[-1]

    return request


def pause(_client: httpx.Client) -> httpx.Response:
    time.sleep(1)
    return httpx.Response(204)


def kinds(base: str, token: dict[str, str]) -> list[tuple[str, Callable[[httpx.Client], httpx.Response]]]:
    login = login_body()
    deep = nested(100_000)
    deep_16 = nested(SIXTEEN_MIB // 2 - 20)
    template = template_body()
    print(f"bodies: login {len(login):,} B ({login.count(b'key'):,} keys), template {len(template):,} B")
    return [
        ("login, 16 MiB, 880k keys", lambda c: c.post("/auth/login", content=login, headers=JSON)),
        ("login, 16 MiB, chunked", lambda c: c.post("/auth/login", content=chunks(login), headers=JSON)),
        ("admin, nested 100k levels", lambda c: c.post("/admin/providers", content=deep, headers=JSON | token)),
        (
            "admin, nested 8M levels, 16 MiB",
            lambda c: c.post("/admin/providers", content=deep_16, headers=JSON | token),
        ),
        (
            "admin, template, 200k unknown keys",
            lambda c: c.post("/admin/provider-templates", content=template, headers=JSON | token),
        ),
        ("login burst, 150 concurrent", login_burst(base)),
    ]


async def readers(base: str, token: dict[str, str], clients: int, done: Any) -> list[float]:
    latencies: list[float] = []

    async def one() -> None:
        async with httpx.AsyncClient(base_url=base, headers=token, timeout=60) as client:
            await client.get("/admin/providers")  # connect first: the opening handshake is not the measure
            await read_while(client, lambda: not done.is_set(), latencies)

    await asyncio.gather(*(one() for _ in range(clients)))
    return latencies


def phase(
    base: str, token: dict[str, str], clients: int, repeat: int, request: Callable[[httpx.Client], httpx.Response]
) -> tuple[Outcome, list[float]]:
    context = multiprocessing.get_context("fork")
    done = context.Event()
    results: multiprocessing.Queue[Outcome] = context.Queue()

    def hostile() -> None:
        time.sleep(0.3)  # the readers are connected and running first
        outcome = Outcome()
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(repeat):
                send(client, outcome, request)
        results.put(outcome)
        done.set()

    process = context.Process(target=hostile)
    process.start()
    latencies = asyncio.run(readers(base, token, clients, done))
    outcome = results.get(timeout=60)
    process.join()
    return outcome, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with running_server() as base:
        token = admin_headers(base)
        with httpx.Client(base_url=base, headers=token) as client:
            for index in range(20):
                client.post("/admin/providers", json=provider(f"seed-{index}")).raise_for_status()
        baseline = ("baseline: a 1 s pause, nothing hostile", pause)
        print(f"{'hostile request':<42} {'answers':<22} {'size':>12} {'time to answer':>20}   GETs: n, p50 / p95 / max")
        for label, request in [baseline, *kinds(base, token)]:
            outcome, latencies = phase(base, token, args.clients, 1 if "burst" in label else args.repeat, request)
            seconds = outcome.seconds
            size = f"{max(outcome.sizes):,} B" if outcome.sizes else "-"
            answered = f"{statistics.median(seconds) * 1000:.0f} ms (max {max(seconds) * 1000:.0f})"
            p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
            print(
                f"{label:<42} {dict(outcome.statuses)!s:<22} {size:>12} {answered:>20}   "
                f"{len(latencies)}, {p50:.1f} / {p95:.1f} / {max(latencies):.1f} ms"
            )


if __name__ == "__main__":
    main()
