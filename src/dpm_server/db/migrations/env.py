"""Alembic environment: migrations always run on a connection handed over by ``dpm_server.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from dpm_server.db.tables import Base

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
