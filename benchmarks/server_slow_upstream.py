"""Latency of ordinary requests while connectivity tests are held by an upstream that drips one byte a second.

Run: .venv/bin/python benchmarks/server_slow_upstream.py [--tests 60] [--clients 4] [--seconds 5]

A dripping upstream runs on 127.0.0.1 (answers 200, then one byte a second); a fresh server whose outbound
allow-list admits 127.0.0.1 holds 20 providers, one of them pointing at the upstream. ``--clients`` asyncio clients
send ``GET /admin/providers`` back to back for ``--seconds`` seconds, first alone (the baseline), then again right
after ``--tests`` connectivity tests of the dripping provider were sent at once, while the admitted ones are held.
Reports the GET latency (p50 / p95 / max) of both phases and what the tests got.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from server_common import admin_headers, percentile, provider, read_while, running_server

OUTBOUND_TIMEOUT = 10  # the server's default DPM_SERVER_OUTBOUND_TIMEOUT


class _Drip(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        stop: threading.Event = self.server.stop  # type: ignore[attr-defined]
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            for _ in range(OUTBOUND_TIMEOUT * 3):  # bounded: longer than the server waits
                self.wfile.write(b" ")
                self.wfile.flush()
                if stop.wait(1.0):
                    return
        except OSError:  # the server gave up on us, as it should
            pass


@contextmanager
def dripping_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    server.stop = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.stop.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


async def readers(client: httpx.AsyncClient, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    end = time.monotonic() + seconds

    async def one() -> None:
        await read_while(client, lambda: time.monotonic() < end, latencies)

    await asyncio.gather(*(one() for _ in range(clients)))
    return latencies


def report(label: str, latencies: list[float]) -> None:
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    print(f"{label:<48} GETs: {len(latencies)}, p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(latencies):.1f} ms")


async def measure(base: str, headers: dict[str, str], provider_id: str, args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=args.tests + args.clients + 1)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:
        await asyncio.gather(*(client.get("/admin/providers") for _ in range(args.clients)))  # connections open
        report("baseline, no connectivity test", await readers(client, args.clients, args.seconds))
        started = time.perf_counter()
        tests = [asyncio.create_task(client.post(f"/admin/providers/{provider_id}/test")) for _ in range(args.tests)]
        answered = -1
        for _ in range(10):  # the refusals come back at once (within 1 s); then measure while tests are held
            await asyncio.sleep(0.1)
            if answered == (answered := sum(task.done() for task in tests)) and answered:
                break
        held_before = sum(not task.done() for task in tests)
        latencies = await readers(client, args.clients, args.seconds)
        held_after = sum(not task.done() for task in tests)
        report(f"{args.tests} tests sent, {held_before} held by the upstream", latencies)
        answers = await asyncio.gather(*tests)
        statuses = Counter(answer.status_code for answer in answers)
        admitted = [a.json() for a in answers if a.status_code == 200]
        print(f"tests: {dict(sorted(statuses.items()))}; still held when the GETs ended: {held_after}")
        if admitted:
            print(f"admitted tests: {admitted[0]['errors']}, all done after {time.perf_counter() - started:.1f} s")
        refused = next((a for a in answers if a.status_code == 429), None)
        if refused is not None:
            print(f"refused: Retry-After {refused.headers['Retry-After']}; {refused.json()['error']['message']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with dripping_upstream() as upstream, running_server({"DPM_SERVER_OUTBOUND_ALLOW": "127.0.0.1"}) as base:
        headers = admin_headers(base)
        with httpx.Client(base_url=base, headers=headers) as client:
            for index in range(19):
                client.post("/admin/providers", json=provider(f"seed-{index}")).raise_for_status()
            dripping = client.post("/admin/providers", json=provider("dripping") | {"apiEndpoint": upstream})
            dripping.raise_for_status()
        asyncio.run(measure(base, headers, dripping.json()["id"], args))


if __name__ == "__main__":
    main()
