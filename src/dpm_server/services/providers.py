"""Providers: list, read, create, partial update and delete."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from dpm_server.db.tables import Model, Provider, utcnow
from dpm_server.errors import AlreadyExists, Conflict, FieldError, SystemResource, ValidationFailed
from dpm_server.schemas.requests import NULLABLE_UPDATE_FIELDS, ProviderCreate, ProviderUpdate
from dpm_server.secretbox import SecretBox
from dpm_server.services import provider_rows
from dpm_server.services.common import check_if_match, load, new_id
from dpm_server.views import provider_view


def model_counts(session: Session, provider_ids: list[str] | None = None) -> dict[str, int]:
    query = select(Model.provider_id, func.count()).group_by(Model.provider_id)
    if provider_ids is not None:
        query = query.where(Model.provider_id.in_(provider_ids))
    return dict(session.execute(query).all())


def view(session: Session, row: Provider) -> dict[str, Any]:
    return provider_view(row, model_counts(session, [row.id]).get(row.id, 0))


def list_providers(
    session: Session, *, status: str | None, is_system: bool | None, search: str | None, page: int, limit: int
) -> dict[str, Any]:
    query: Select[Provider] = select(Provider)
    if status is not None:
        query = query.where(Provider.status == status)
    if is_system is not None:
        query = query.where(Provider.is_system == is_system)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(Provider.name.ilike(pattern, escape="\\"), Provider.description.ilike(pattern, escape="\\"))
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Provider.identifier).offset((page - 1) * limit).limit(limit)).all()
    counts = model_counts(session, [row.id for row in rows])
    return {
        "data": [provider_view(row, counts.get(row.id, 0)) for row in rows],
        "pagination": {"page": page, "limit": limit, "total": total, "totalPages": math.ceil(total / limit)},
    }


def get_provider(session: Session, *, provider_id: str) -> dict[str, Any]:
    return view(session, load(session, Provider, provider_id, "Provider"))


def create_row(session: Session, *, box: SecretBox, values: dict[str, Any], actor: str) -> Provider:
    """Inserts a provider from API-shaped ``values``; 422 on any rule, 409 on a taken identifier. (An import
    writes its own rows in bulk: ``import_writes``.)"""
    staged = provider_rows.stage(box, values)
    if staged.problems:
        raise ValidationFailed(staged.problems)
    ensure_identifier_free(session, values["identifier"])
    now = utcnow()
    row = Provider(id=new_id(), is_system=False, created_by=actor, created_at=now)
    provider_rows.assign(row, staged)
    row.updated_at = now
    session.add(row)
    return row


def ensure_identifier_free(session: Session, identifier: str) -> None:
    if session.scalar(select(Provider.id).where(Provider.identifier == identifier)) is not None:
        raise AlreadyExists(
            f"A provider with identifier '{identifier}' already exists",
            field="identifier",
            suggestions=["Choose another identifier, or update the existing provider with PUT"],
        )


def create_provider(session: Session, *, box: SecretBox, body: ProviderCreate, actor: str) -> dict[str, Any]:
    values = provider_rows.sent_fields(body, only_set=False)
    return provider_view(create_row(session, box=box, values=values, actor=actor), 0)


def update_provider(
    session: Session, *, box: SecretBox, provider_id: str, body: ProviderUpdate, if_match: str | None
) -> dict[str, Any]:
    row = load(session, Provider, provider_id, "Provider")
    check_if_match(row.etag, if_match)
    changes = provider_rows.sent_fields(body, only_set=True)
    reject_nulls(changes)
    reject_shrinking_below_models(session, row=row, capabilities=changes.get("capabilities"))
    update_row(box=box, row=row, changes=changes)
    session.flush()
    return view(session, row)


def update_row(*, box: SecretBox, row: Provider, changes: dict[str, Any]) -> None:
    staged = provider_rows.stage(box, changes, row)
    if staged.problems:
        raise ValidationFailed(staged.problems)
    provider_rows.assign(row, staged)


def reject_shrinking_below_models(session: Session, *, row: Provider, capabilities: Any) -> None:
    """A provider's maxContextLength may not drop below the contextLength of a model it already has."""
    maximum = capabilities.get("maxContextLength") if isinstance(capabilities, dict) else None
    if not isinstance(maximum, int):
        return
    query = select(Model.identifier, Model.context_length).where(
        Model.provider_id == row.id, Model.context_length > maximum
    )
    over = session.execute(query.order_by(Model.identifier)).all()
    if over:
        listed = ", ".join(f"{identifier} ({length})" for identifier, length in over)
        raise ValidationFailed(
            [
                FieldError(
                    "capabilities.maxContextLength",
                    f"maxContextLength {maximum} is below the contextLength of existing models: {listed}",
                    maximum,
                    "lower those models' contextLength first, or keep maxContextLength at least as high",
                )
            ]
        )


def reject_nulls(changes: dict[str, Any]) -> None:
    nulls = [name for name, value in changes.items() if value is None and name not in NULLABLE_UPDATE_FIELDS]
    if nulls:
        raise ValidationFailed([FieldError(name, f"{name} may not be null; leave it out to keep it") for name in nulls])


def delete_provider(session: Session, *, provider_id: str, if_match: str | None) -> None:
    row = load(session, Provider, provider_id, "Provider")
    check_if_match(row.etag, if_match)
    if row.is_system:
        raise SystemResource(f"Provider '{row.identifier}' is a system provider and cannot be deleted")
    count = model_counts(session, [row.id]).get(row.id, 0)
    if count:
        raise Conflict(
            f"Provider '{row.identifier}' still has {count} model(s); delete them first",
            details={"modelCount": count},
            suggestions=["DELETE /api/admin/models/{id} for each model, then delete the provider"],
        )
    session.delete(row)
