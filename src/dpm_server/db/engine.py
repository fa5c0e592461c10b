"""The engine and transactions.

SQLite runs in WAL mode with foreign keys and a busy timeout, and a write transaction begins with
``BEGIN IMMEDIATE``: it takes the write lock up front, so two writers queue on the busy timeout instead of one
failing with "database is locked" halfway through. PostgreSQL needs none of this and gets plain transactions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dpm_server.db.tables import RegistryState
from dpm_server.errors import Conflict

_WRITE = "dpm_write"
POOL_SIZE = 40  # the size of the threadpool that runs sync routes


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, hide_parameters=True, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # A pool as large as the request concurrency: overflow connections would be opened (and their pragmas run)
    # and closed again for every burst.
    engine = create_engine(
        url,
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=POOL_SIZE,
        max_overflow=POOL_SIZE,
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event instead of pysqlite's implicit BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Sessions for reads and for writes; a registry change also bumps the stored revision in its transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite's busy handler polls with growing sleeps, which turns queued writers into a latency tail. Writers
        # of this process queue on a lock instead and wake the moment it is free; busy_timeout still covers other
        # processes. PostgreSQL has row locks and needs no such queue.
        self._writers: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(engine.execution_options(**{_WRITE: True}), expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        try:
            with self._writers, self._write() as session, session.begin():
                yield session
        except IntegrityError as exc:
            # Services check uniqueness first; this is a concurrent writer winning the race (PostgreSQL).
            raise Conflict("The change conflicts with a concurrent change; read again and retry") from exc

    @contextmanager
    def change(self) -> Iterator[Session]:
        """A write that changes providers, models or templates: the revision grows when it commits."""
        with self.write() as session:
            yield session
            session.execute(
                update(RegistryState).where(RegistryState.id == 1).values(revision=RegistryState.revision + 1)
            )

    def dispose(self) -> None:
        self.engine.dispose()
