"""Writes a checked import in bulk: one executemany per table and shape of row, not one ORM object per row.

An import of 5,000 providers x 10 models spent most of its time in the ORM's unit of work (building 55,000
objects, flushing them one INSERT at a time on SQLite, and a lookup per model for ``isDefault``). Every rule has
already passed when these run (``importing`` plans the whole file first), so the rows go in as plain dicts
through SQLAlchemy Core, in the import's own transaction: a failure still rolls back everything, audit entries
included. The rows written are the ones the per-resource services write (``providers.create_row``,
``provider_rows.assign``, ``models.create_row`` and ``models.update_row``): the same columns, defaults and
secret handling, and the same effect of ``isDefault``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from dpm_server.db import bulk
from dpm_server.db.tables import Model, Provider
from dpm_server.errors import ValidationFailed
from dpm_server.services import models, provider_rows
from dpm_server.services.common import new_etag, new_id
from dpm_server.services.provider_rows import StagedProvider

PROVIDERS: Table = Provider.__table__  # type: ignore[assignment]
MODELS: Table = Model.__table__  # type: ignore[assignment]
_KEY = "row_id"  # the WHERE parameter of an executemany UPDATE; a column name would clash with the SET values


def new_provider(staged: StagedProvider, *, actor: str) -> dict[str, Any]:
    """The row ``providers.create_row`` inserts (``insert_rows`` adds the timestamps)."""
    row = {column: staged.values.get(api) for api, column in provider_rows.COLUMNS.items()}
    return row | _sealed(staged) | {"id": new_id(), "is_system": False, "created_by": actor, "etag": new_etag()}


def provider_changes(stored: Any, staged: StagedProvider) -> dict[str, Any]:
    """The columns ``provider_rows.assign`` writes: plain columns only where they changed (a stored value that
    cannot be written any more must not stop the update), the sealed authConfig always."""
    changed = {
        column: staged.values[api]
        for api, column in provider_rows.COLUMNS.items()
        if api in staged.values and getattr(stored, column) != staged.values[api]
    }
    return changed | _sealed(staged) | {"etag": new_etag(), _KEY: stored.id}


def _sealed(staged: StagedProvider) -> dict[str, Any]:
    auth = staged.auth
    return {
        "auth_config": auth.config,
        "secret_ciphertexts": auth.ciphertexts,
        "secret_fingerprints": auth.fingerprints,
    }


def new_model(provider_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The row ``models.create_row`` inserts (the planner has checked it against its provider)."""
    row: dict[str, Any] = {"status": "active", "is_default": False}
    row |= {column: values[api] for api, column in models.COLUMNS.items() if api in values}
    return row | {"id": new_id(), "provider_id": provider_id, "etag": new_etag()}


def model_changes(stored: Any, changes: Mapping[str, Any], limit: int | None) -> dict[str, Any]:
    """The columns ``models.update_row`` writes, after its check of the merged model against its provider (the
    planner checked what was sent; a merge keeps stored fields it did not see)."""
    current = {api: getattr(stored, column) for api, column in models.COLUMNS.items()}
    found = models.problems({**current, **changes}, limit)
    if found:
        raise ValidationFailed(found)
    row = {column: changes[api] for api, column in models.COLUMNS.items() if api in changes}
    return row | {"etag": new_etag(), _KEY: stored.id}


def settle_defaults(written: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    """``isDefault: true`` clears the flag on the provider's other models, in file order: of the rows written
    here (provider id, row), the last one that sets it wins and the earlier ones lose it. Returns the winner of
    each provider, whose stored siblings ``clear_other_defaults`` then clears."""
    winners: dict[str, dict[str, Any]] = {}
    for provider_id, row in written:
        if row.get("is_default"):
            if provider_id in winners:
                winners[provider_id]["is_default"] = False
            winners[provider_id] = row
    return {provider_id: row.get("id") or row[_KEY] for provider_id, row in winners.items()}


def clear_other_defaults(session: Session, winners: Mapping[str, str], *, now: datetime) -> None:
    if not winners:
        return
    others = (
        update(MODELS)
        .where(MODELS.c.provider_id == bindparam("owner"), MODELS.c.id != bindparam("winner"), MODELS.c.is_default)
        .values(is_default=False, etag=bindparam("new_etag"), updated_at=now)
    )
    params = [{"owner": owner, "winner": winner, "new_etag": new_etag()} for owner, winner in winners.items()]
    session.execute(others, params)


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]], *, now: datetime) -> None:
    """One executemany, every row stamped ``now`` as created and updated."""
    when = bulk.stamp(session, table, "created_at", now)
    for row in rows:
        row["created_at"] = row["updated_at"] = when
    bulk.execute_many(session, insert(table), table, rows)


def update_rows(session: Session, table: Table, rows: Iterable[dict[str, Any]], *, now: datetime) -> None:
    """One executemany per set of columns (a merge import changes different fields on different rows), every
    row stamped ``now`` as updated."""
    when = bulk.stamp(session, table, "updated_at", now)
    by_shape: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        row["updated_at"] = when
        by_shape[frozenset(row)].append(row)
    for group in by_shape.values():
        bulk.execute_many(session, update(table).where(table.c.id == bindparam(_KEY)), table, group)
