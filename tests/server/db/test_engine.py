"""SQLite runs in WAL mode with foreign keys and a busy timeout; writes begin immediately; migrations are at head."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from dpm_server.db import migrate
from dpm_server.db.engine import Database, make_engine
from dpm_server.errors import Conflict


def _database(tmp_path: Path) -> Database:
    db = Database(make_engine(f"sqlite:///{tmp_path / 'nested' / 'registry.db'}"))
    migrate.upgrade(db.engine)
    return db


def test_pragmas(tmp_path: Path) -> None:
    db = _database(tmp_path)
    with db.read() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    db.dispose()


def test_writes_begin_immediately_and_reads_do_not(tmp_path: Path) -> None:
    db = _database(tmp_path)
    statements: list[str] = []

    def record(_conn: Connection, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    with db.write() as session:
        session.execute(text("SELECT 1"))
    with db.read() as session:
        session.execute(text("SELECT 1"))
    db.dispose()

    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]


def test_migrations_are_idempotent_and_at_head(tmp_path: Path) -> None:
    db = _database(tmp_path)
    migrate.upgrade(db.engine)
    with db.read() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        assert session.execute(text("SELECT revision FROM registry_state")).scalar() == 0
    db.dispose()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    db = _database(tmp_path)
    orphan = text("INSERT INTO refresh_tokens VALUES ('j', 'f', 'no-user', '2030-01-01', NULL, NULL)")
    with pytest.raises(Conflict), db.write() as session:  # an integrity failure is a 409, never a 500
        session.execute(orphan)
    db.dispose()
