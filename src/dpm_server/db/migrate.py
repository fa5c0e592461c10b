"""Runs the Alembic migrations programmatically at startup, on the server's own engine."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from dpm_server.db.engine import WRITE_LOCK


def upgrade(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(resources.files("dpm_server.db").joinpath("migrations")))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together on one database migrate one after the other.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
