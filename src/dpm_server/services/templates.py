"""Provider templates: the seeded system templates, custom template CRUD, and template apply."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.resources.models import ModelSpec
from dpm.resources.rules import model_list_violations
from dpm.resources.templates import apply_template as build_from_template
from dpm.resources.templates import system_templates
from dpm_server.db.tables import Template, utcnow
from dpm_server.errors import AlreadyExists, FieldError, SystemResource, ValidationFailed
from dpm_server.schemas.requests import ApplyTemplateRequest, ProviderCreate, TemplateCreate, TemplateUpdate
from dpm_server.secretbox import SecretBox
from dpm_server.services import models, providers
from dpm_server.services.common import check_if_match, load, new_etag, new_id
from dpm_server.services.provider_rows import sent_fields
from dpm_server.validation import from_violations, parse
from dpm_server.views import provider_view, template_auth, template_view


def seed_system_templates(session: Session, *, box: SecretBox) -> None:
    """Inserts the built-in templates, or brings stored ones up to this version's definitions."""
    for template in system_templates():
        row = session.get(Template, template["id"])
        if row is None:
            row = Template(id=template["id"], is_system=True, created_by="system", created_at=utcnow())
            row.provider_config = {}
            session.add(row)
        else:
            stored = {
                "name": row.name,
                "description": row.description,
                "providerConfig": template_view(row, box)["providerConfig"],
                "defaultModels": row.default_models,
            }
            if stored == {key: template.get(key) for key in stored}:
                continue
        _assign(box, row, template)


def _assign(box: SecretBox, row: Template, values: dict[str, Any]) -> None:
    config = copy.deepcopy(values.get("providerConfig", row.provider_config))
    if "providerConfig" in values and "authConfig" in config:
        sealed = box.seal(config["authConfig"], template_auth(row) if row.provider_config else None)
        config["authConfig"] = sealed.config
        row.secret_ciphertexts, row.secret_fingerprints = sealed.ciphertexts, sealed.fingerprints
    elif "providerConfig" in values:
        row.secret_ciphertexts, row.secret_fingerprints = {}, {}
    row.provider_config = config
    for key, column in (("name", "name"), ("description", "description"), ("defaultModels", "default_models")):
        if key in values:
            setattr(row, column, values[key])
    row.updated_at = utcnow()
    row.etag = new_etag()


def list_templates(session: Session, *, is_system: bool | None) -> list[dict[str, Any]]:
    query = select(Template).order_by(Template.is_system.desc(), Template.name)
    if is_system is not None:
        query = query.where(Template.is_system == is_system)
    return [template_view(row) for row in session.scalars(query)]


def get_template(session: Session, *, template_id: str) -> dict[str, Any]:
    return template_view(load(session, Template, template_id, "Template"))


def _ensure_name_free(session: Session, name: str, own_id: str | None = None) -> None:
    holder = session.scalar(select(Template.id).where(Template.name == name))
    if holder is not None and holder != own_id:
        raise AlreadyExists(f"A template named '{name}' already exists", field="name")


def create_row(session: Session, *, box: SecretBox, values: dict[str, Any], actor: str) -> Template:
    _ensure_name_free(session, values["name"])
    row = Template(id=new_id(), is_system=False, created_by=actor, created_at=utcnow(), provider_config={})
    _assign(box, row, {"defaultModels": [], "description": None, **values})
    session.add(row)
    session.flush()
    return row


def create_template(session: Session, *, box: SecretBox, body: TemplateCreate, actor: str) -> dict[str, Any]:
    return template_view(create_row(session, box=box, values=sent_fields(body, only_set=False), actor=actor))


def update_row(session: Session, *, box: SecretBox, row: Template, changes: dict[str, Any]) -> None:
    if row.is_system:
        raise SystemResource(f"Template '{row.name}' is a system template and cannot be modified")
    providers.reject_nulls({k: v for k, v in changes.items() if k != "description"})
    if "name" in changes:
        _ensure_name_free(session, changes["name"], row.id)
    _assign(box, row, changes)


def update_template(
    session: Session, *, box: SecretBox, template_id: str, body: TemplateUpdate, if_match: str | None
) -> dict[str, Any]:
    row = load(session, Template, template_id, "Template")
    check_if_match(row.etag, if_match)
    update_row(session, box=box, row=row, changes=sent_fields(body, only_set=True))
    session.flush()
    return template_view(row)


def delete_template(session: Session, *, template_id: str, if_match: str | None) -> None:
    row = load(session, Template, template_id, "Template")
    check_if_match(row.etag, if_match)
    if row.is_system:
        raise SystemResource(f"Template '{row.name}' is a system template and cannot be deleted")
    session.delete(row)


def apply(
    session: Session, *, box: SecretBox, template_id: str, body: ApplyTemplateRequest, actor: str
) -> dict[str, Any]:
    """201's body: the provider built by ``dpm.resources.templates.apply_template``, with its default models."""
    row = load(session, Template, template_id, "Template")
    template = template_view(row, box)
    built = build_from_template(template, body.identifier, body.name, body.customizations)
    specs = built.pop("models")
    provider_body, errors = parse(ProviderCreate, built)
    parsed_models: list[ModelSpec] = []
    for index, spec in enumerate(specs):
        model, model_errors = parse(ModelSpec, spec, ("models", index))
        errors += model_errors
        parsed_models += [model] if model else []
    errors += from_violations(model_list_violations(specs), ("models",))
    if errors or provider_body is None:
        raise ValidationFailed(errors or [FieldError("", "the template does not build a valid provider")])
    provider = providers.create_row(session, box=box, values=sent_fields(provider_body, only_set=False), actor=actor)
    for model in parsed_models:
        models.create_row(session, provider=provider, values=sent_fields(model, only_set=False))
    return provider_view(provider, len(parsed_models))
