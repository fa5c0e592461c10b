"""Runs the Alembic migrations programmatically at startup, on the server's own engine."""

from __future__ import annotations

import functools
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from dpm_server.db.engine import WRITE_LOCK


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("dpm_server.db").joinpath("migrations")))
    return config


@functools.cache
def heads() -> frozenset[str]:
    """The revisions this code's migrations end at (read once: they cannot change under a running process)."""
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def applied(connection: Connection) -> frozenset[str]:
    """The revisions the database says it is at (none for an empty database)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())


def upgrade(engine: Engine) -> None:
    config = _config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together on one database migrate one after the other.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
