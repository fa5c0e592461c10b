"""The engine and transactions.

SQLite runs in WAL mode with foreign keys and a busy timeout, and a write transaction begins with
``BEGIN IMMEDIATE``: it takes the write lock up front, so two writers queue on the busy timeout instead of one
failing with "database is locked" halfway through.

PostgreSQL runs at READ COMMITTED, and a write transaction begins by taking one transaction-scoped advisory lock,
the same for every replica: writers queue as they do on SQLite, so the services' check-then-write rules (unique
names, a provider's context length against its models) hold across replicas, and writers never deadlock on each
other. Serialization failures and deadlocks can still come from elsewhere (another client of the database, a
stricter isolation level); ``write`` raises them as :class:`RetryableTransaction` and the HTTP layer runs the
request again (``dpm_server.http.retry``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, update
from sqlalchemy.engine import Connection, Engine, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dpm_server.db.tables import RegistryState
from dpm_server.errors import Conflict
from dpm_server.extras import MissingExtra
from dpm_server.keyfiles import create_private_file, private_dir, warn_if_shared

_WRITE = "dpm_write"
POOL_SIZE = 40  # the size of the threadpool that runs sync routes
WRITE_LOCK = 0x64706D5F77726974  # "dpm_writ": the PostgreSQL advisory lock every write transaction takes
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


class RetryableTransaction(Exception):
    """The database rolled the transaction back (a serialization failure or a deadlock); running it again is safe."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"transaction rolled back by the database (SQLSTATE {sqlstate})")
        self.sqlstate = sqlstate


def sqlstate_of(exc: BaseException) -> str | None:
    original = getattr(exc, "orig", None)
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state if isinstance(state, str) else None


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        try:
            engine = create_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=10, max_overflow=20)
        except ModuleNotFoundError as exc:  # the dialect's driver: psycopg is the postgres extra
            raise MissingExtra(f"the database URL {parsed.drivername}://…", "postgres", exc.name) from None
        if parsed.get_backend_name() == "postgresql":
            event.listen(engine, "begin", _postgresql_begin)
        return engine
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        _private_sqlite_files(Path(parsed.database))
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


def report_errors(engine: Engine, report: Callable[[str], None]) -> None:
    """Calls ``report`` with the class name of every error the driver raises on ``engine`` (connecting included)."""

    def handle_error(context: ExceptionContext) -> None:
        report(type(context.sqlalchemy_exception or context.original_exception).__name__)

    event.listen(engine, "handle_error", handle_error)


def _private_sqlite_files(database: Path) -> None:
    """The database file is created here with mode 0600 before SQLite opens it: SQLite gives its WAL and
    shared-memory files the database file's mode, so they are private too."""
    private_dir(database.parent)
    create_private_file(database)
    for suffix in ("-wal", "-shm", "-journal"):
        warn_if_shared(database.with_name(database.name + suffix))


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


def _postgresql_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(_WRITE, False):
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")


@contextmanager
def _retryable() -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        state = sqlstate_of(exc)
        if state in RETRYABLE_SQLSTATES:
            raise RetryableTransaction(state) from exc
        raise


class Database:
    """Sessions for reads and for writes; a registry change also bumps the stored revision in its transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite's busy handler polls with growing sleeps, which turns queued writers into a latency tail. Writers
        # of this process queue on a lock instead and wake the moment it is free; busy_timeout (SQLite) or the
        # advisory lock (PostgreSQL) still covers other processes. On PostgreSQL the lock also keeps queued writers
        # from holding a pooled connection each while they wait.
        self._writers: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name in {"sqlite", "postgresql"} else nullcontext()
        )
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(engine.execution_options(**{_WRITE: True}), expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with _retryable(), self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        try:
            with _retryable(), self._writers, self._write() as session, session.begin():
                yield session
        except IntegrityError as exc:
            # Services check uniqueness first; this is a concurrent writer winning the race.
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
