"""Bulk import: validate the whole file first, then write it all in the caller's single transaction.

An export document is a valid import body. Read-only fields that an export carries (``id``, ``isSystem``,
``createdAt``, fingerprints, …) are dropped rather than honoured, and models find their provider by
``providerIdentifier``, or by the exported provider ``id`` within the same file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.resources.models import ModelSpec
from dpm.resources.rules import model_list_violations
from dpm_server.db.tables import Model, Provider, Template
from dpm_server.errors import FieldError, ValidationFailed
from dpm_server.schemas.requests import ImportRequest, ProviderCreate, TemplateCreate
from dpm_server.secretbox import SecretBox
from dpm_server.services import models, provider_rows, providers, templates
from dpm_server.services.provider_rows import sent_fields
from dpm_server.validation import READ_ONLY_FIELDS, from_violations, parse

_DROPPED = READ_ONLY_FIELDS | {"providerId", "providerIdentifier"}


@dataclass
class Step:
    kind: str  # provider | model | template
    identifier: str
    action: str  # created | updated | skipped
    values: dict[str, Any] = field(default_factory=dict)
    row: Any = None
    provider_identifier: str | None = None
    message: str = ""


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)


def _strip(raw: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in raw.items() if k not in _DROPPED}
    auth = data.get("authConfig")
    if isinstance(auth, dict) and "fieldFingerprints" in auth:
        data["authConfig"] = {k: v for k, v in auth.items() if k != "fieldFingerprints"}
    return data


def _changes(body: Any, mode: str) -> dict[str, Any]:
    return sent_fields(body, only_set=mode == "merge")


def _plan_providers(session: Session, box: SecretBox, request: ImportRequest, plan: Plan) -> dict[str, dict[str, Any]]:
    """Plans each provider; returns the resulting provider values by identifier, for checking models."""
    mode, resulting = request.options.conflictResolution, {}
    parsed = [
        parse(ProviderCreate, _strip(raw), ("data", "providers", i)) for i, raw in enumerate(request.data.providers)
    ]
    idents = [p.identifier for p, _ in parsed if p]
    existing = {r.identifier: r for r in session.scalars(select(Provider).where(Provider.identifier.in_(idents)))}
    seen: set[str] = set()
    for index, (body, errors) in enumerate(parsed):
        prefix = ("data", "providers", index)
        plan.errors += errors
        if body is None:
            continue
        if body.identifier in seen:
            plan.errors.append(FieldError(f"data.providers.{index}.identifier", "duplicate provider in this file"))
            continue
        seen.add(body.identifier)
        row = existing.get(body.identifier)
        if row is not None and mode == "skip":
            plan.steps.append(Step("provider", body.identifier, "skipped", row=row, message="already exists"))
            resulting[body.identifier] = provider_rows.stored_fields(row)
            continue
        changes = _changes(body, mode) if row else sent_fields(body, only_set=False)
        staged = provider_rows.stage(box, changes, row)
        plan.errors += [FieldError(".".join(map(str, prefix)) + "." + e.field, *_rest(e)) for e in staged.problems]
        action = "updated" if row else "created"
        plan.steps.append(Step("provider", body.identifier, action, changes, row, message=f"provider {action}"))
        resulting[body.identifier] = staged.values
    return resulting


def _rest(error: FieldError) -> tuple[str, Any, str | None]:
    return error.message, error.value, error.suggestion


def _provider_ref(raw: dict[str, Any], request: ImportRequest, session: Session) -> str | None:
    if isinstance(raw.get("providerIdentifier"), str):
        return str(raw["providerIdentifier"])
    pid = raw.get("providerId")
    for provider in request.data.providers:
        if pid is not None and provider.get("id") == pid and isinstance(provider.get("identifier"), str):
            return str(provider["identifier"])
    row = session.get(Provider, pid) if isinstance(pid, str) else None
    return row.identifier if row else None


def _plan_models(session: Session, request: ImportRequest, plan: Plan, resulting: dict[str, dict[str, Any]]) -> None:
    mode = request.options.conflictResolution
    by_provider: dict[str, list[dict[str, Any]]] = {}
    for index, raw in enumerate(request.data.models):
        prefix = ("data", "models", index)
        ref = _provider_ref(raw, request, session)
        body, errors = parse(ModelSpec, _strip(raw), prefix)
        plan.errors += errors
        provider_values = resulting.get(ref or "") or _stored_provider(session, ref)
        if ref is None or provider_values is None:
            plan.errors.append(
                FieldError(".".join(map(str, prefix)), "the model's provider is neither in this file nor stored")
            )
            continue
        if body is None:
            continue
        values = sent_fields(body, only_set=False)
        by_provider.setdefault(ref, []).append(values)
        limit = (provider_values.get("capabilities") or {}).get("maxContextLength")
        plan.errors += models.problems(values, limit, prefix)
        row = _stored_model(session, ref, body.identifier)
        if row is not None and mode == "skip":
            plan.steps.append(
                Step("model", body.identifier, "skipped", row=row, provider_identifier=ref, message="already exists")
            )
            continue
        changes = _changes(body, mode) if row else values
        action = "updated" if row else "created"
        plan.steps.append(Step("model", body.identifier, action, changes, row, ref, f"model {action}"))
    for ref, specs in by_provider.items():
        plan.errors += from_violations(model_list_violations(specs), ("data", "models", f"<{ref}>"))


def _stored_provider(session: Session, identifier: str | None) -> dict[str, Any] | None:
    row = session.scalar(select(Provider).where(Provider.identifier == identifier)) if identifier else None
    return provider_rows.stored_fields(row) if row else None


def _stored_model(session: Session, provider_identifier: str, identifier: str) -> Model | None:
    query = (
        select(Model).join(Provider).where(Provider.identifier == provider_identifier, Model.identifier == identifier)
    )
    return session.scalar(query)


def _plan_templates(session: Session, request: ImportRequest, plan: Plan) -> None:
    mode = request.options.conflictResolution
    for index, raw in enumerate(request.data.templates):
        name = str(raw.get("name"))
        if raw.get("isSystem") is True:
            plan.steps.append(Step("template", name, "skipped", message="system templates are built in"))
            continue
        body, errors = parse(TemplateCreate, _strip(raw), ("data", "templates", index))
        plan.errors += errors
        if body is None:
            continue
        row = session.scalar(select(Template).where(Template.name == body.name))
        if row is not None and (mode == "skip" or row.is_system):
            plan.steps.append(Step("template", body.name, "skipped", row=row, message="already exists"))
            continue
        changes = _changes(body, mode) if row else sent_fields(body, only_set=False)
        action = "updated" if row else "created"
        plan.steps.append(Step("template", body.name, action, changes, row, message=f"template {action}"))


def _carry_out(session: Session, box: SecretBox, plan: Plan, actor: str) -> None:
    for step in plan.steps:
        if step.action == "skipped":
            continue
        if step.kind == "provider" and step.row is None:
            providers.create_row(session, box=box, values=step.values, actor=actor)
        elif step.kind == "provider":
            providers.update_row(box=box, row=step.row, changes=step.values)
        elif step.kind == "model":
            provider = session.scalar(select(Provider).where(Provider.identifier == step.provider_identifier))
            assert provider is not None  # planned against this file or the stored providers
            if step.row is None:
                models.create_row(session, provider=provider, values=step.values)
            else:
                models.update_row(session, row=step.row, provider=provider, changes=step.values)
        elif step.row is None:
            templates.create_row(session, box=box, values=step.values, actor=actor)
        else:
            templates.update_row(session, box=box, row=step.row, changes=step.values)
        session.flush()


def import_(session: Session, *, box: SecretBox, request: ImportRequest, actor: str) -> dict[str, Any]:
    plan = Plan()
    resulting = _plan_providers(session, box, request, plan)
    _plan_models(session, request, plan, resulting)
    _plan_templates(session, request, plan)
    if plan.errors:
        raise ValidationFailed(plan.errors)
    if not request.options.validateOnly:
        _carry_out(session, box, plan, actor)
    done = [s for s in plan.steps if s.action != "skipped"]
    return {
        "success": True,
        "summary": {
            "providersImported": sum(s.kind == "provider" for s in done),
            "modelsImported": sum(s.kind == "model" for s in done),
            "templatesImported": sum(s.kind == "template" for s in done),
            "conflicts": sum(s.row is not None for s in plan.steps),
            "errors": 0,
        },
        "details": [
            {"type": s.kind, "identifier": s.identifier, "action": s.action, "message": s.message} for s in plan.steps
        ],
    }
