"""Bulk export: the whole registry (or chosen providers) in one response, redacted unless a backup asks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm_server.db.tables import Model, Provider, Template, utcnow
from dpm_server.schemas.requests import ExportRequest
from dpm_server.secretbox import SecretBox
from dpm_server.services.providers import model_counts
from dpm_server.services.registry import current_revision
from dpm_server.views import model_view, provider_view, template_view, timestamp

EXPORT_VERSION = "1.0"


def export(session: Session, *, box: SecretBox, body: ExportRequest, actor: str) -> dict[str, Any]:
    opener = box if body.includeSecrets else None
    # Plain result rows, not ORM objects: building 10,000 instances would cost more than the rest of the export.
    query = select(Provider.__table__).order_by(Provider.identifier)
    if body.providerIds is not None:
        query = query.where(Provider.id.in_(body.providerIds))
    rows = session.execute(query).all()
    counts = model_counts(session, None if body.providerIds is None else [r.id for r in rows])
    identifiers = {row.id: row.identifier for row in rows}
    models: list[dict[str, Any]] = []
    if body.includeModels:
        model_query = select(Model.__table__)
        if body.providerIds is not None:
            model_query = model_query.where(Model.provider_id.in_(identifiers))
        found = session.execute(model_query).all()
        models = [model_view(m, identifiers[m.provider_id]) for m in found]
        models.sort(key=lambda m: (m["providerIdentifier"], m["identifier"]))
    templates: list[dict[str, Any]] = []
    if body.includeTemplates:
        custom = select(Template).where(Template.is_system.is_(False)).order_by(Template.name)
        templates = [template_view(t, opener) for t in session.scalars(custom)]
    return {
        "data": {
            "providers": [provider_view(row, counts.get(row.id, 0), opener) for row in rows],
            "models": models,
            "templates": templates,
        },
        "metadata": {
            "exportedAt": timestamp(utcnow()),
            "exportedBy": actor,
            "version": EXPORT_VERSION,
            "revision": current_revision(session),
        },
    }
