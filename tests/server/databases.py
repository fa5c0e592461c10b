"""Throwaway PostgreSQL databases for the server tests.

``DPM_TEST_POSTGRES_URL`` names a PostgreSQL server (a SQLAlchemy URL to any database on it, as a role that may
create databases). Each test gets a database of its own, copied from a template that already holds the migrated
schema, so tests stay independent and no test pays for the migrations. ``.ci/run`` starts a throwaway cluster and
sets the variable; without it the PostgreSQL variants are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import itertools
import os
import uuid

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from dpm_server.db import migrate
from dpm_server.db.engine import make_engine

POSTGRES_ENV = "DPM_TEST_POSTGRES_URL"
REDIS_ENV = "DPM_TEST_REDIS_URL"
# Read at import: the suite's autouse fixture hides DPM_* variables and CI from the tests themselves.
POSTGRES_URL = os.environ.get(POSTGRES_ENV) or None
REDIS_URL = os.environ.get(REDIS_ENV) or None
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def in_ci() -> bool:
    return IN_CI


def missing(what: str, variable: str) -> str:
    return f"{what} tests need {variable} (.ci/run starts one and sets it); skipped outside CI"


class PostgresServer:
    """Creates and drops databases on one PostgreSQL server; every name carries this run's token."""

    def __init__(self, url: str) -> None:
        self.url: URL = make_url(url).set(drivername="postgresql+psycopg")
        self._token = uuid.uuid4().hex[:8]
        self._counter = itertools.count()
        self.template = f"dpm_test_{self._token}_template"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        libpq = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(libpq, autocommit=True)

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def create_template(self) -> None:
        """The template database: migrated once, then copied for each test."""
        with self._admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.template)))
        engine = make_engine(self.url_of(self.template))
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()

    def create_empty(self, label: str) -> str:
        """A fresh database without the schema (the app migrates it); returns its SQLAlchemy URL."""
        name = f"dpm_test_{self._token}_{label}_{next(self._counter)}"
        with self._admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_of(name)

    def create(self, label: str = "t") -> str:
        """A fresh database with the migrated schema; returns its SQLAlchemy URL."""
        name = f"dpm_test_{self._token}_{label}_{next(self._counter)}"
        with self._admin() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(self.template))
            )
        return self.url_of(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        if not (name and name.startswith(f"dpm_test_{self._token}_")):
            raise ValueError(f"not a database of this run: {name}")
        with self._admin() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def drop_template(self) -> None:
        self.drop(self.url_of(self.template))
