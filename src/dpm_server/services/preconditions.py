"""Import preconditions (ext): the state each entry must still be in, checked in the import's own transaction.

A client plans against one read of the registry and writes with a later request. Checking its preconditions where
the write happens, under the same write lock, is what makes "nothing moved since I looked" true at the moment of
writing rather than a moment before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from dpm_server.db.tables import Model, Provider, Template
from dpm_server.errors import PreconditionFailed
from dpm_server.schemas.requests import ImportPrecondition

ABSENT = "absent"
_CHUNK = 500  # bound parameters per lookup: far below SQLite's limit, however many preconditions arrive


def check(session: Session, preconditions: Sequence[ImportPrecondition]) -> None:
    """Raise 412 listing every precondition that does not hold; return quietly when all do."""
    if not preconditions:
        return
    current = _current_etags(session, preconditions)
    failed = []
    for wanted in preconditions:
        actual = current.get((wanted.type, wanted.identifier), ABSENT)
        if not _matches(wanted.ifMatch, actual):
            failed.append(
                {"type": wanted.type, "identifier": wanted.identifier, "expected": wanted.ifMatch, "actual": actual}
            )
    if failed:
        raise PreconditionFailed(
            f"{len(failed)} import precondition(s) failed; nothing was imported",
            details=failed,
            suggestions=["Read the registry again, review what moved, and import again"],
        )


def _matches(expected: str, actual: str) -> bool:
    if ABSENT in {expected, actual}:
        return expected == actual
    return _bare(expected) == _bare(actual)


def _bare(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


def _current_etags(session: Session, preconditions: Sequence[ImportPrecondition]) -> dict[tuple[str, str], str]:
    providers = {p.identifier for p in preconditions if p.type == "provider"}
    templates = {p.identifier for p in preconditions if p.type == "template"}
    models = {tuple(p.identifier.split("/", 1)) for p in preconditions if p.type == "model" and "/" in p.identifier}
    etags: dict[tuple[str, str], str] = {}
    for chunk in _chunks(providers):
        query = select(Provider.identifier, Provider.etag).where(Provider.identifier.in_(chunk))
        etags |= {("provider", ident): etag for ident, etag in session.execute(query)}
    for chunk in _chunks(templates):
        query = select(Template.name, Template.etag).where(Template.name.in_(chunk))
        etags |= {("template", name): etag for name, etag in session.execute(query)}
    for pairs in _chunks(models):
        pairs_query = (
            select(Provider.identifier, Model.identifier, Model.etag)
            .join(Provider, Model.provider_id == Provider.id)
            .where(tuple_(Provider.identifier, Model.identifier).in_(pairs))
        )
        rows = session.execute(pairs_query)
        etags |= {("model", f"{owner}/{ident}"): etag for owner, ident, etag in rows}
    return etags


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    ordered = sorted(items)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]
