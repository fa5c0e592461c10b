"""Helpers every service shares: ids, etags, If-Match, and loading a row or answering 404."""

from __future__ import annotations

import secrets
import uuid
from typing import TypeVar

from sqlalchemy.orm import Session

from dpm_server.db.tables import Base
from dpm_server.errors import NotFound, PreconditionFailed

Row = TypeVar("Row", bound=Base)


def new_id() -> str:
    return str(uuid.uuid4())


def new_etag() -> str:
    return f'"{secrets.token_hex(8)}"'


def check_if_match(current: str, if_match: str | None) -> None:
    """412 unless ``If-Match`` is absent, ``*``, or names the current etag (quotes and ``W/`` optional)."""
    if if_match is None:
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if "*" not in wanted and current.strip('"') not in wanted:
        raise PreconditionFailed(
            "The resource has changed since it was read (If-Match does not match its etag)",
            details={"etag": current},
            suggestions=["Read the resource again and retry with its current etag"],
        )


def load(session: Session, table: type[Row], ident: str, kind: str) -> Row:
    row = session.get(table, ident)
    if row is None:
        raise NotFound.of(kind, ident)
    return row
