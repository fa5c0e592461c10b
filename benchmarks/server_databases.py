"""Export and import of 1,000 providers x 10 models on SQLite and on PostgreSQL, and the time a change takes to
show on a second replica.

Run: DPM_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
         benchmarks/server_databases.py
The URL names a PostgreSQL server (any database on it, as a role that may create databases); the script creates and
drops its own databases there. Without it only SQLite is measured.

Per database: a server is seeded through one import, then timed: five exports with the guide's body, one full backup
(``includeSecrets: true``, what an empty instance can be restored from), and the import of that backup into a
second, empty server. Replicas: two servers on one database; a provider is renamed through the first, and the second
server's registry-status is polled (every 2 ms) until its revision shows the change, 50 times.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import psycopg
from cryptography.fernet import Fernet
from psycopg import sql
from server_common import ADMIN, admin_headers, free_port
from server_export import MODELS_PER_PROVIDER, PROVIDERS, seed_document
from sqlalchemy.engine import make_url

EXPORTS, CHANGES = 5, 50
KEYS = {"DPM_SERVER_SECRET_KEY": Fernet.generate_key().decode(), "DPM_SERVER_JWT_SECRET": uuid.uuid4().hex * 2}


@contextmanager
def server(data_dir: str, database_url: str | None) -> Iterator[str]:
    port = free_port()
    env = (
        os.environ
        | KEYS
        | {
            "DPM_SERVER_DATA_DIR": data_dir,
            "DPM_SERVER_RATE_LIMIT": "100000000/60",
            "DPM_ADMIN_USERNAME": ADMIN["username"],
            "DPM_ADMIN_PASSWORD": ADMIN["password"],
        }
    )
    if database_url:
        env["DPM_SERVER_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "dpm_server", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def database(kind: str, data_dir: str, postgres: str | None) -> Iterator[str | None]:
    """None (SQLite under the data dir) or the URL of a fresh PostgreSQL database, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    assert postgres
    server_url = make_url(postgres)
    name = f"dpm_bench_{uuid.uuid4().hex[:8]}"
    admin = server_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server_url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def timed(client: httpx.Client, path: str, body: object) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.post(path, json=body)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response


def export_import(kind: str, postgres: str | None) -> None:
    with ExitStack() as stack:
        first_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="dpm-bench-"))
        second_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="dpm-bench-"))
        first = stack.enter_context(server(first_dir, stack.enter_context(database(kind, first_dir, postgres))))
        client = stack.enter_context(httpx.Client(base_url=first, timeout=600, headers=admin_headers(first)))
        seed, _ = timed(client, "/admin/providers/import", seed_document())
        exports = []
        for _ in range(EXPORTS):
            elapsed, response = timed(client, "/admin/providers/export", {"includeModels": True})
            exports.append(elapsed)
        size = len(response.content) / 1e6
        backup_time, backup = timed(client, "/admin/providers/export", {"includeModels": True, "includeSecrets": True})

        second = stack.enter_context(server(second_dir, stack.enter_context(database(kind, second_dir, postgres))))
        restore = stack.enter_context(httpx.Client(base_url=second, timeout=600, headers=admin_headers(second)))
        import_time, imported = timed(restore, "/admin/providers/import", backup.json())
        status = restore.get("/admin/providers/registry-status").json()
        assert status["providersLoaded"] == PROVIDERS, status
        assert status["modelsLoaded"] == PROVIDERS * MODELS_PER_PROVIDER, status

    print(f"[{kind}] {PROVIDERS} providers x {MODELS_PER_PROVIDER} models")
    print(f"[{kind}]   seed import: {seed:.2f} s")
    print(f"[{kind}]   export ({size:.1f} MB): " + ", ".join(f"{t * 1000:.0f}" for t in exports) + " ms")
    print(f"[{kind}]   median export: {statistics.median(exports) * 1000:.0f} ms")
    print(f"[{kind}]   full backup export (includeSecrets): {backup_time * 1000:.0f} ms")
    print(f"[{kind}]   import of the backup into an empty instance: {import_time:.2f} s ({imported.json()['summary']})")


def propagation(kind: str, postgres: str | None) -> None:
    with ExitStack() as stack:
        one_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="dpm-bench-"))
        two_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="dpm-bench-"))
        url = stack.enter_context(database(kind, one_dir, postgres))
        if url is None:  # two processes on one SQLite file
            url = f"sqlite:///{one_dir}/registry.db"
        one = stack.enter_context(server(one_dir, url))
        two = stack.enter_context(server(two_dir, url))
        headers = admin_headers(one)
        a = stack.enter_context(httpx.Client(base_url=one, headers=headers))
        b = stack.enter_context(httpx.Client(base_url=two, headers=headers))
        provider = a.post("/admin/providers", json=seed_document_provider()).json()
        samples, polls = [], []
        for index in range(CHANGES):
            revision = b.get("/admin/providers/registry-status").json()["revision"]
            a.put(f"/admin/providers/{provider['id']}", json={"name": f"renamed {index}"}).raise_for_status()
            started, count = time.perf_counter(), 0
            while b.get("/admin/providers/registry-status").json()["revision"] <= revision:
                count += 1
                time.sleep(0.002)
            samples.append((time.perf_counter() - started) * 1000)
            polls.append(count + 1)
    ordered = sorted(samples)
    p95 = ordered[round(0.95 * (len(ordered) - 1))]
    print(
        f"[{kind}] replica propagation over {CHANGES} changes (from the writer's 2xx to the other's status):"
        f" median {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, max {max(samples):.1f} ms;"
        f" status requests needed: max {max(polls)}"
    )


def seed_document_provider() -> dict[str, object]:
    providers = seed_document()["data"]["providers"]  # type: ignore[index]
    return dict(providers[0])


def main() -> None:
    postgres = os.environ.get("DPM_BENCH_POSTGRES_URL")
    kinds = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    for kind in kinds:
        export_import(kind, postgres)
    for kind in kinds:
        propagation(kind, postgres)


if __name__ == "__main__":
    main()
