"""The registry: the in-memory view of active providers and models that the application routes with.

It reloads lazily: every read compares the revision stored in the database (bumped by each committed change,
by any replica) with the one it loaded, so it is never stale and a quiet server does no work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
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
        try:
            active = select(Provider.identifier, Model.identifier).outerjoin(
                Model, (Model.provider_id == Provider.id) & (Model.status == "active")
            )
            models: dict[str, list[str]] = {}
            for provider, model in session.execute(active.where(Provider.status == "active")):
                models.setdefault(provider, []).extend([model] if model else [])
            return Snapshot(revision, models, utcnow())
        except SQLAlchemyError as exc:
            return Snapshot(-1, {}, utcnow(), [f"registry load failed: {type(exc).__name__}"])


def status(session: Session, *, registry: Registry) -> dict[str, Any]:
    snapshot = registry.current(session)
    tested = session.execute(
        select(func.count(), func.sum(func.coalesce(Provider.test_result["responseTime"].as_integer(), 0))).where(
            Provider.status == "active", Provider.test_result.is_not(None)
        )
    ).one()
    passed = session.scalar(
        select(func.count()).where(Provider.status == "active", Provider.test_result["success"].as_boolean())
    )
    count, total_time = tested[0] or 0, tested[1] or 0
    health = "error" if snapshot.errors else ("degraded" if count and (passed or 0) < count else "healthy")
    return {
        "status": health,
        "providersLoaded": snapshot.providers_loaded,
        "modelsLoaded": snapshot.models_loaded,
        "lastRefresh": maybe_timestamp(snapshot.loaded_at),
        "errors": snapshot.errors,
        "performance": {
            "averageResponseTime": round(total_time / count) if count else 0,
            "successRate": round((passed or 0) / count, 4) if count else 1.0,
        },
        "revision": snapshot.revision,
    }


def refresh(session: Session, *, registry: Registry) -> dict[str, Any]:
    snapshot = registry.current(session, force=True)
    return {
        "message": "Provider registry refreshed successfully",
        "providersLoaded": snapshot.providers_loaded,
        "modelsLoaded": snapshot.models_loaded,
        "refreshedAt": timestamp(snapshot.loaded_at or utcnow()),
    }
