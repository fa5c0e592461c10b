"""Helpers every service shares: ids, etags, If-Match, loading a row or answering 404, and pausing the cycle
collector for the bulk routes."""

from __future__ import annotations

import gc
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


class _CollectorPause:
    """Holds the cycle collector off while an export builds its answer or an import plans and writes.

    Those build hundreds of thousands of objects (an export's 50,000 model objects, an import's parsed entries
    and rows), so the heap grows by far more than a quarter and the collector runs full passes over every object
    in the process, for nothing: they hold no reference cycles. That was a third of an export's time. The pause
    is process-wide, so it lasts only that long, and the collector resumes when the last of concurrent holders
    is done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._resume:
                    gc.enable()


collector_paused = _CollectorPause()
