"""The registry server's bulk routes at scale: import and export of N providers x M models, on SQLite and
PostgreSQL, server-side CPU time beside wall time, and two source trees compared in the same run.

Run:
    .venv/bin/python benchmarks/registry_bench.py [--providers 5000] [--models 10] [--repeat 3] [--exports 3] \\
        [--db sqlite --db postgresql] [--tree before=/path/to/old/checkout/src --tree after=src]

``--tree LABEL=SRC`` runs the server from another checkout's ``src`` (on PYTHONPATH, with this environment's
libraries; orjson does not hurt a tree that does not use it); without it, this checkout's code is measured alone.
Trees alternate within each repetition, and their order flips from one repetition to the next, so that a change
in the machine's load falls on both. PostgreSQL needs ``DPM_TEST_POSTGRES_URL`` (a role that may create
databases); the script creates and drops a database per server.

Each measurement starts a fresh server on an empty database, then:
- import: the whole registry in 4 MiB batches, each provider with its models, as ``dpm apply`` sends them;
- re-import: the same batches again with ``conflictResolution: replace`` (every row an update);
- export: ``--exports`` times, the body ``dpm plan`` sends (models included, templates not); the median is kept.

Wall time is the client's (loopback); CPU time is the server process's own (user + system, from /proc), so it
is what the server spent, whatever else the machine runs. On PostgreSQL the database's own CPU is not in it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from server_common import admin_headers, model, provider, server_process
from sqlalchemy.engine import make_url

MAX_BATCH_BYTES = 4 * 1024 * 1024  # dpm.engine.apply.MAX_IMPORT_BYTES
TICKS = os.sysconf("SC_CLK_TCK")
EXPORT_BODY = {"includeModels": True, "includeTemplates": False}


@dataclass
class Sample:
    wall: float
    cpu: float


@dataclass
class Run:
    db: str
    tree: str
    imported: Sample
    reimported: Sample
    exports: list[Sample] = field(default_factory=list)

    @property
    def export(self) -> Sample:
        return Sample(statistics.median(s.wall for s in self.exports), statistics.median(s.cpu for s in self.exports))


def batches(providers: int, models: int) -> list[dict[str, Any]]:
    """Import bodies of at most 4 MiB, a provider always with its models."""
    out: list[dict[str, Any]] = []
    body: dict[str, Any] = {"providers": [], "models": []}
    size = 0
    for index in range(providers):
        identifier = f"bench-{index:05d}"
        group = [provider(identifier)] + [model(f"model-{n}", identifier) for n in range(models)]
        group_size = sum(len(json.dumps(item)) for item in group)
        if body["providers"] and size + group_size > MAX_BATCH_BYTES:
            out.append({"data": body})
            body, size = {"providers": [], "models": []}, 0
        body["providers"].append(group[0])
        body["models"].extend(group[1:])
        size += group_size
    out.append({"data": body})
    return out


def cpu_seconds(pid: int) -> float:
    """User + system time of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None (the server's own SQLite file in its data directory), or the URL of a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield None
        return
    server = os.environ.get("DPM_TEST_POSTGRES_URL")
    if not server:
        raise SystemExit("--db postgresql needs DPM_TEST_POSTGRES_URL")
    url = make_url(server).set(drivername="postgresql+psycopg")
    name = f"dpm_bench_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def server(src: str | None, database_url: str | None) -> Iterator[tuple[str, int]]:
    """A fresh server running the code under ``src`` (None: this environment's); yields its base URL and pid."""
    extra = {"PYTHONPATH": str(Path(src).resolve())} if src is not None else {}
    if database_url is not None:
        extra["DPM_SERVER_DATABASE_URL"] = database_url
    with server_process(extra) as running:
        yield running


def timed(pid: int, send: Any) -> Sample:
    cpu, started = cpu_seconds(pid), time.perf_counter()
    send()
    return Sample(time.perf_counter() - started, cpu_seconds(pid) - cpu)


def measure(db: str, tree: str, src: str | None, *, bodies: list[dict[str, Any]], exports: int, total: int) -> Run:
    with database(db) as url, server(src, url) as (base, pid), httpx.Client(base_url=base, timeout=600) as client:
        client.headers.update(admin_headers(base))

        def send_all(mode: str) -> None:
            for body in bodies:
                response = client.post("/admin/providers/import", json=body | {"options": {"conflictResolution": mode}})
                response.raise_for_status()

        imported = timed(pid, lambda: send_all("merge"))
        reimported = timed(pid, lambda: send_all("replace"))
        run = Run(db, tree, imported, reimported)
        answers: list[httpx.Response] = []
        for _ in range(exports):
            run.exports.append(
                timed(pid, lambda: answers.append(client.post("/admin/providers/export", json=EXPORT_BODY)))
            )
            answers[-1].raise_for_status()
            models = len(answers[-1].json()["data"]["models"])
            assert models == total, f"{tree} exported {models} models, not {total}"
        return run


def report(runs: list[Run], trees: list[str], args: argparse.Namespace) -> None:
    print(f"\n{args.providers} providers x {args.models} models; medians of {args.repeat} runs (wall / server CPU)")
    print("| database | code | import | re-import (replace) | export |")
    print("|---|---|---:|---:|---:|")
    medians: dict[tuple[str, str], dict[str, Sample]] = {}
    for db in args.db:
        for tree in trees:
            mine = [r for r in runs if r.db == db and r.tree == tree]
            row = {
                name: Sample(
                    statistics.median(getattr(r, name).wall for r in mine),
                    statistics.median(getattr(r, name).cpu for r in mine),
                )
                for name in ("imported", "reimported", "export")
            }
            medians[db, tree] = row
            cells = " | ".join(f"{s.wall:.2f} s / {s.cpu:.2f} s" for s in row.values())
            print(f"| {db} | {tree} | {cells} |")
        if len(trees) == 2:
            before, after = medians[db, trees[0]], medians[db, trees[1]]
            cells = " | ".join(
                f"{before[n].wall / after[n].wall:.1f}x / {before[n].cpu / after[n].cpu:.1f}x" for n in before
            )
            print(f"| {db} | {trees[0]} / {trees[1]} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=5000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--exports", type=int, default=3)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--tree", action="append", default=[], help="LABEL=SRC: run the server from SRC")
    args = parser.parse_args()
    args.db = args.db or ["sqlite"]
    trees: list[tuple[str, str | None]] = [tuple(t.split("=", 1)) for t in args.tree] or [("current", None)]  # type: ignore[misc]
    bodies = batches(args.providers, args.models)
    print(f"nproc {os.cpu_count()}, load average at start {os.getloadavg()}; {len(bodies)} import batches")
    runs = []
    for db in args.db:
        for repetition in range(args.repeat):
            for tree, src in trees if repetition % 2 == 0 else trees[::-1]:
                run = measure(db, tree, src, bodies=bodies, exports=args.exports, total=args.providers * args.models)
                runs.append(run)
                print(
                    f"{db} {tree} #{repetition + 1}: import {run.imported.wall:.2f} s (CPU {run.imported.cpu:.2f} s), "
                    f"re-import {run.reimported.wall:.2f} s (CPU {run.reimported.cpu:.2f} s), export "
                    + ", ".join(f"{s.wall:.2f} s (CPU {s.cpu:.2f} s)" for s in run.exports),
                    flush=True,
                )
    print(f"load average at end {os.getloadavg()}")
    report(runs, [t for t, _ in trees], args)


if __name__ == "__main__":
    main()
