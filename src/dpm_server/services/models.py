"""Models: list, read, create, partial update and delete, always checked against their provider."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dpm.resources.rules import model_violations
from dpm_server.db.tables import Model, Provider, utcnow
from dpm_server.errors import AlreadyExists, FieldError, ValidationFailed
from dpm_server.schemas.requests import ModelCreate, ModelUpdate
from dpm_server.services.common import check_if_match, load, new_etag, new_id
from dpm_server.services.provider_rows import sent_fields
from dpm_server.services.providers import reject_nulls
from dpm_server.validation import from_violations, int_bound_violations
from dpm_server.views import model_view

COLUMNS = {
    "identifier": "identifier",
    "name": "name",
    "description": "description",
    "contextLength": "context_length",
    "capabilities": "capabilities",
    "pricingInfo": "pricing_info",
    "status": "status",
    "isDefault": "is_default",
}


def list_models(session: Session, *, provider_id: str, status: str | None) -> list[dict[str, Any]]:
    provider = load(session, Provider, provider_id, "Provider")
    query = select(Model).where(Model.provider_id == provider.id).order_by(Model.identifier)
    if status is not None:
        query = query.where(Model.status == status)
    return [model_view(row, provider.identifier) for row in session.scalars(query)]


def get_model(session: Session, *, model_id: str) -> dict[str, Any]:
    row = load(session, Model, model_id, "Model")
    return model_view(row, load(session, Provider, row.provider_id, "Provider").identifier)


def max_context(provider: Provider) -> int | None:
    return (provider.capabilities or {}).get("maxContextLength")


def problems(values: dict[str, Any], limit: int | None, prefix: tuple[str | int, ...] = ()) -> list[FieldError]:
    return from_violations(model_violations(values, limit), prefix) + int_bound_violations(
        {"contextLength": values.get("contextLength")}, prefix
    )


def create_row(session: Session, *, provider: Provider, values: dict[str, Any]) -> Model:
    """Inserts a model, checked against its provider and its siblings. (An import writes its own rows in bulk:
    ``import_writes``.)"""
    found = problems(values, max_context(provider))
    if found:
        raise ValidationFailed(found)
    taken = select(Model.id).where(Model.provider_id == provider.id, Model.identifier == values["identifier"])
    if session.scalar(taken) is not None:
        raise AlreadyExists(
            f"Provider '{provider.identifier}' already has a model '{values['identifier']}'", field="identifier"
        )
    now = utcnow()
    row = Model(id=new_id(), provider_id=provider.id, created_at=now, status="active", is_default=False)
    _assign(session, row, values)
    session.add(row)
    return row


def update_row(session: Session, *, row: Model, provider: Provider, changes: dict[str, Any]) -> None:
    current = {api: getattr(row, column) for api, column in COLUMNS.items()}
    found = problems({**current, **changes}, max_context(provider))
    if found:
        raise ValidationFailed(found)
    _assign(session, row, changes)


def _assign(session: Session, row: Model, values: dict[str, Any]) -> None:
    for api, column in COLUMNS.items():
        if api in values:
            setattr(row, column, values[api])
    if values.get("isDefault"):
        # isDefault: true clears the flag on the provider's other models.
        others = update(Model).where(Model.provider_id == row.provider_id, Model.id != row.id, Model.is_default)
        session.execute(others.values(is_default=False, etag=new_etag(), updated_at=utcnow()))
    row.updated_at = utcnow()
    row.etag = new_etag()


def create_model(session: Session, *, provider_id: str, body: ModelCreate) -> dict[str, Any]:
    provider = load(session, Provider, provider_id, "Provider")
    row = create_row(session, provider=provider, values=sent_fields(body, only_set=False))
    return model_view(row, provider.identifier)


def update_model(session: Session, *, model_id: str, body: ModelUpdate, if_match: str | None) -> dict[str, Any]:
    row = load(session, Model, model_id, "Model")
    check_if_match(row.etag, if_match)
    provider = load(session, Provider, row.provider_id, "Provider")
    changes = sent_fields(body, only_set=True)
    reject_nulls(changes)
    update_row(session, row=row, provider=provider, changes=changes)
    session.flush()
    return model_view(row, provider.identifier)


def delete_model(session: Session, *, model_id: str, if_match: str | None) -> None:
    row = load(session, Model, model_id, "Model")
    check_if_match(row.etag, if_match)
    session.delete(row)
