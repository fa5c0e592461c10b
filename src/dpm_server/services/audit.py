"""The audit log: who changed what, when, on which resource, in which request.

Every admin mutation records its entries in the session of the change itself, so an entry exists exactly when the
change committed. An entry holds names and ids only: the acting username, an action verb, the resource type, id and
identifier, the request id and a few counts or labels in ``details``. It never holds a field value, so no secret
can reach it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, Table, func, insert, select
from sqlalchemy.orm import Session

from dpm_server.db import bulk
from dpm_server.db.tables import AuditEntry, Model, Provider, Template, utcnow
from dpm_server.views import timestamp

Action = Literal["create", "update", "delete", "apply", "import", "export", "refresh"]
ResourceType = Literal["provider", "model", "template", "registry"]

AUDIT_LOG: Table = AuditEntry.__table__  # type: ignore[assignment]

# Scalars only, and only these keys: a guard against a future caller passing a body by mistake.
Details = Mapping[str, str | int | bool | None]


@dataclass(frozen=True)
class Entry:
    action: Action
    resource_type: ResourceType
    resource_id: str | None = None
    identifier: str | None = None
    details: Details | None = None


@dataclass(frozen=True)
class Auditor:
    """Records entries for one request: the admin who sent it and its request id."""

    username: str
    request_id: str | None

    def record(
        self,
        session: Session,
        action: Action,
        resource_type: ResourceType,
        resource_id: str | None = None,
        *,
        identifier: str | None = None,
        details: Details | None = None,
    ) -> None:
        """One entry. Without ``identifier``, a provider, model or template is looked up by id (in the identity map
        when the change has loaded it already), which is why a delete records before it deletes."""
        if identifier is None and resource_id is not None:
            identifier, found = _describe(session, resource_type, resource_id)
            details = {**found, **(details or {})} if found else details
        self.record_many(session, [Entry(action, resource_type, resource_id, identifier, details)])

    def record_many(self, session: Session, entries: Iterable[Entry]) -> None:
        now = bulk.stamp(session, AUDIT_LOG, "occurred_at", utcnow())
        rows = [
            {
                "occurred_at": now,
                "username": self.username,
                "action": e.action,
                "resource_type": e.resource_type,
                "resource_id": e.resource_id,
                "resource_identifier": e.identifier,
                "request_id": self.request_id,
                "details": _clean(e.details),  # None is stored as JSON null, as the JSON type stores it
            }
            for e in entries
        ]
        # An import records one entry per written resource: 55,000 of them go through one executemany.
        bulk.execute_many(session, insert(AUDIT_LOG), AUDIT_LOG, rows)


def _clean(details: Details | None) -> dict[str, Any] | None:
    if not details:
        return None
    return {str(k): v for k, v in details.items() if v is None or isinstance(v, str | int | bool)}


def _describe(session: Session, resource_type: str, resource_id: str) -> tuple[str | None, dict[str, str]]:
    if resource_type == "provider":
        provider = session.get(Provider, resource_id)
        return (provider.identifier if provider else None), {}
    if resource_type == "model":
        model = session.get(Model, resource_id)
        owner = session.get(Provider, model.provider_id) if model else None
        return (model.identifier if model else None), ({"providerIdentifier": owner.identifier} if owner else {})
    if resource_type == "template":
        template = session.get(Template, resource_id)
        return (template.name if template else None), {}
    return None, {}


def entry_view(row: AuditEntry) -> dict[str, Any]:
    view = {
        "id": str(row.id),
        "timestamp": timestamp(row.occurred_at),
        "username": row.username,
        "action": row.action,
        "resourceType": row.resource_type,
        "resourceId": row.resource_id,
        "resourceIdentifier": row.resource_identifier,
        "requestId": row.request_id,
        "details": row.details or {},
    }
    return {key: value for key, value in view.items() if value is not None}  # absent, never null


def list_entries(
    session: Session,
    *,
    action: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    username: str | None = None,
    page: int = 1,
    limit: int = 20,
) -> dict[str, Any]:
    """Newest first, in the providers list's pagination shape."""
    query: Select[AuditEntry] = select(AuditEntry)
    for column, wanted in (
        (AuditEntry.action, action),
        (AuditEntry.resource_type, resource_type),
        (AuditEntry.resource_id, resource_id),
        (AuditEntry.username, username),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).offset((page - 1) * limit).limit(limit)).all()
    return {
        "data": [entry_view(row) for row in rows],
        "pagination": {"page": page, "limit": limit, "total": total, "totalPages": math.ceil(total / limit)},
    }
