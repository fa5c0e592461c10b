"""Many rows in one statement, through the driver's own executemany.

SQLAlchemy's executemany processes every parameter of every row in Python (type processors, a dict per row):
for an import of 50,000 models that cost more than the database's own work. Here the rows arrive holding what
the driver takes: JSON columns are serialized once with orjson and bound as text (cast to json on PostgreSQL),
and the one timestamp of a write is converted once by its column's own type. Other values (text, integers,
booleans, None) need no conversion for sqlite3 or psycopg.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Insert, Table, Update, bindparam
from sqlalchemy.orm import Session

from dpm_server import fastjson
from dpm_server.db.tables import json_text


def stamp(session: Session, table: Table, column: str, moment: datetime) -> Any:
    """``moment`` as the driver takes it for ``table.column`` (naive UTC text on SQLite, a datetime on
    PostgreSQL), by the column type's own conversion."""
    dialect = session.get_bind().dialect
    process = table.c[column].type.bind_processor(dialect)
    return process(moment) if process is not None else moment


def execute_many(session: Session, statement: Insert | Update, table: Table, rows: list[dict[str, Any]]) -> None:
    """Runs ``statement`` (an INSERT, or an UPDATE with its WHERE bound) once per row; every row has the same
    keys, each a column of ``table`` or a parameter the statement already binds. JSON columns are serialized
    in place."""
    if not rows:
        return
    json_columns = [name for name in rows[0] if name in table.c and isinstance(table.c[name].type, JSON)]
    for row in rows:
        for name in json_columns:
            row[name] = fastjson.dumps_text(row[name])
    values = {name: json_text(session, name) if name in json_columns else bindparam(name) for name in rows[0]}
    connection = session.connection()
    compiled = statement.values(_columns(table, values)).compile(dialect=connection.dialect)
    order = compiled.positiontup  # qmark (sqlite3) takes tuples, pyformat (psycopg) takes the dicts
    params = [tuple(row[name] for name in order) for row in rows] if order is not None else rows
    connection.exec_driver_sql(compiled.string, params)


def _columns(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name in table.c}
