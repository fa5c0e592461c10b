"""The registry: the in-memory view of active providers and models that the application routes with.

It reloads lazily: every read compares the revision stored in the database (bumped by each committed change,
by any replica) with the one it loaded, so it is never stale and a quiet server does no work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dpm_server.db.tables import Model, Provider, RegistryState, utcnow
from dpm_server.logs import get_logger
from dpm_server.views import maybe_timestamp, timestamp

log = get_logger("registry")


def current_revision(session: Session) -> int:
    return session.scalar(select(RegistryState.revision).where(RegistryState.id == 1)) or 0


@dataclass
class Snapshot:
    revision: int = -1
    models_by_provider: dict[str, list[str]] = field(default_factory=dict)
    loaded_at: datetime | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def providers_loaded(self) -> int:
        return len(self.models_by_provider)

    @property
    def models_loaded(self) -> int:
        return sum(len(m) for m in self.models_by_provider.values())


class Registry:
    def __init__(self) -> None:
        self._snapshot = Snapshot()
        self._lock = threading.Lock()

    def current(self, session: Session, *, force: bool = False) -> Snapshot:
        with self._lock:
            revision = current_revision(session)
            if force or revision != self._snapshot.revision:
                self._snapshot = self._load(session, revision)
                log.debug("registry loaded at revision %d: %d providers", revision, self._snapshot.providers_loaded)
            return self._snapshot

    @staticmethod
    def _load(session: Session, revision: int) -> Snapshot:
        # A savepoint: on PostgreSQL a failed query aborts the transaction, which the status still needs.
        try:
            active = select(Provider.identifier, Model.identifier).outerjoin(
                Model, (Model.provider_id == Provider.id) & (Model.status == "active")
            )
            models: dict[str, list[str]] = {}
            with session.begin_nested():
                for provider, model in session.execute(active.where(Provider.status == "active")):
                    models.setdefault(provider, []).extend([model] if model else [])
            return Snapshot(revision, models, utcnow())
        except SQLAlchemyError as exc:
            return Snapshot(-1, {}, utcnow(), [f"registry load failed: {type(exc).__name__}"])


RECENT = timedelta(hours=24)
"""Connectivity results older than this no longer speak for the registry's health."""


@dataclass(frozen=True)
class Performance:
    tested: int = 0
    passed: int = 0
    total_time: int = 0

    def __add__(self, other: Performance) -> Performance:
        return Performance(self.tested + other.tested, self.passed + other.passed, self.total_time + other.total_time)


def _performance(session: Session, table: type[Provider] | type[Model], since: datetime) -> Performance:
    """The stored results of the recent connectivity tests of active rows, aggregated in the database."""
    success = table.test_result["success"].as_boolean()
    query = select(
        func.count(),
        func.sum(case((success, 1), else_=0)),
        func.sum(func.coalesce(table.test_result["responseTime"].as_integer(), 0)),
    ).where(table.status == "active", table.test_result.is_not(None), table.last_tested >= since)
    if table is Model:
        query = query.join(Provider, Provider.id == Model.provider_id).where(Provider.status == "active")
    tested, passed, total_time = session.execute(query).one()
    return Performance(tested or 0, passed or 0, total_time or 0)


def status(session: Session, *, registry: Registry) -> dict[str, Any]:
    """``degraded`` when a recent test of an active provider or model failed, ``error`` when the view failed."""
    snapshot = registry.current(session)
    errors = list(snapshot.errors)
    since = utcnow() - RECENT
    try:
        with session.begin_nested():
            perf = _performance(session, Provider, since) + _performance(session, Model, since)
    except SQLAlchemyError as exc:
        perf = Performance()
        errors.append(f"performance query failed: {type(exc).__name__}")
    health = "error" if errors else ("degraded" if perf.passed < perf.tested else "healthy")
    answer = {
        "status": health,
        "providersLoaded": snapshot.providers_loaded,
        "modelsLoaded": snapshot.models_loaded,
        "lastRefresh": maybe_timestamp(snapshot.loaded_at),
        "errors": errors,
        "performance": {
            "averageResponseTime": round(perf.total_time / perf.tested) if perf.tested else 0,
            "successRate": round(perf.passed / perf.tested, 4) if perf.tested else 1.0,
        },
        "revision": snapshot.revision if snapshot.revision >= 0 else current_revision(session),
    }
    return {key: value for key, value in answer.items() if value is not None}  # absent, never null


def refresh(session: Session, *, registry: Registry) -> dict[str, Any]:
    snapshot = registry.current(session, force=True)
    return {
        "message": "Provider registry refreshed successfully",
        "providersLoaded": snapshot.providers_loaded,
        "modelsLoaded": snapshot.models_loaded,
        "refreshedAt": timestamp(snapshot.loaded_at or utcnow()),
    }
