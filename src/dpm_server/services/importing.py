"""Bulk import: validate the whole file first, then write it all in the caller's single transaction.

An export document is a valid import body. Read-only fields that an export carries (``id``, ``isSystem``,
``createdAt``, fingerprints, …) are dropped rather than honoured, and models find their provider by
``providerIdentifier``, or by the exported provider ``id`` within the same file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.resources.models import ModelSpec
from dpm.resources.rules import model_list_violations
from dpm.resources.secrets import REDACTED
from dpm_server.db.tables import Provider, Template, utcnow
from dpm_server.errors import MAX_VALIDATION_ERRORS, FieldError, ValidationFailed
from dpm_server.schemas.requests import ImportRequest, ProviderCreate, TemplateCreate
from dpm_server.secretbox import SecretBox
from dpm_server.services import import_writes as writes
from dpm_server.services import models, preconditions, provider_rows, templates
from dpm_server.services.audit import Action, Auditor, Entry, ResourceType
from dpm_server.services.common import collector_paused
from dpm_server.services.import_writes import MODELS, PROVIDERS
from dpm_server.services.provider_rows import StagedProvider, sent_fields
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
    resource_id: str | None = None  # set once written
    staged: StagedProvider | None = None  # a provider's sealed, checked values, written as they are


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    unchecked: int = 0  # entries not checked once the errors already fill an answer
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)  # the models' providers as they will be

    def full(self, remaining: int) -> bool:
        """True once the errors fill an answer; the ``remaining`` entries are then counted, not checked."""
        if len(self.errors) < MAX_VALIDATION_ERRORS:
            return False
        self.unchecked += remaining
        return True


def _strip(raw: dict[str, Any]) -> dict[str, Any]:
    """Drops the read-only fields an export carries, fingerprints included (a template's sit in providerConfig)."""
    data = {k: v for k, v in raw.items() if k not in _DROPPED}
    _strip_fingerprints(data)
    config = data.get("providerConfig")
    if isinstance(config, dict):
        data["providerConfig"] = dict(config)
        _strip_fingerprints(data["providerConfig"])
    return data


def _strip_fingerprints(holder: dict[str, Any]) -> None:
    auth = holder.get("authConfig")
    if isinstance(auth, dict) and "fieldFingerprints" in auth:
        holder["authConfig"] = {k: v for k, v in auth.items() if k != "fieldFingerprints"}


def _changes(body: Any, mode: str) -> dict[str, Any]:
    return sent_fields(body, only_set=mode == "merge")


def _plan_providers(session: Session, box: SecretBox, request: ImportRequest, plan: Plan) -> dict[str, dict[str, Any]]:
    """Plans each provider; returns the resulting provider values by identifier, for checking models."""
    mode, resulting = request.options.conflictResolution, {}
    parsed: list[ProviderCreate | None] = []
    for i, raw in enumerate(request.data.providers):
        if plan.full(len(request.data.providers) - i):
            break
        body, errors = parse(ProviderCreate, _strip(raw), ("data", "providers", i))
        parsed.append(body)
        plan.errors += errors
    idents = [p.identifier for p in parsed if p]
    existing = {r.identifier: r for r in session.scalars(select(Provider).where(Provider.identifier.in_(idents)))}
    seen: set[str] = set()
    for index, body in enumerate(parsed):
        prefix = ("data", "providers", index)
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
        plan.errors += [_entry_error(prefix, body.identifier, e, changes, new=row is None) for e in staged.problems]
        action = "updated" if row else "created"
        message = f"provider {action}"
        plan.steps.append(Step("provider", body.identifier, action, changes, row, message=message, staged=staged))
        resulting[body.identifier] = staged.values
    return resulting


_NO_SECRET = (
    "The file holds no value for this secret and the provider is new: export with includeSecrets: true "
    "for a full backup, or send the value"
)


def _entry_error(
    prefix: tuple[str | int, ...], identifier: str, error: FieldError, sent: dict[str, Any], *, new: bool
) -> FieldError:
    """A provider's rule failure, with its path in the file and its identifier in the message."""
    suggestion = error.suggestion
    if new and _sent_value(sent, error.field) == REDACTED:
        suggestion = _NO_SECRET
    path = ".".join(map(str, prefix)) + "." + error.field
    return FieldError(path, f"provider '{identifier}': {error.message}", error.value, suggestion)


def _sent_value(sent: dict[str, Any], dotted: str) -> Any:
    value: Any = sent
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _provider_refs(session: Session, request: ImportRequest) -> list[str | None]:
    """Each model's provider identifier: its providerIdentifier, or its providerId within this file or stored."""
    in_file = {p.get("id"): p.get("identifier") for p in request.data.providers if isinstance(p.get("identifier"), str)}
    ids = [raw.get("providerId") for raw in request.data.models if not isinstance(raw.get("providerIdentifier"), str)]
    unknown = [pid for pid in ids if isinstance(pid, str) and pid not in in_file]
    stored = dict(session.execute(select(Provider.id, Provider.identifier).where(Provider.id.in_(unknown))).all())
    refs: list[str | None] = []
    for raw in request.data.models:
        ref, pid = raw.get("providerIdentifier"), raw.get("providerId")
        if not isinstance(ref, str):
            ref = in_file.get(pid) or (stored.get(pid) if isinstance(pid, str) else None)
        refs.append(ref if isinstance(ref, str) else None)
    return refs


@dataclass
class _Stored:
    """What the database already holds for the providers a file's models name, fetched in two queries."""

    providers: dict[str, dict[str, Any]]
    models: dict[tuple[str, str], Any]  # plain result rows: a re-import may match 50,000 of them

    @classmethod
    def fetch(cls, session: Session, identifiers: set[str]) -> _Stored:
        rows = session.scalars(select(Provider).where(Provider.identifier.in_(identifiers)))
        providers = {row.identifier: provider_rows.stored_fields(row) for row in rows}
        owner = PROVIDERS.c.identifier
        query = select(MODELS, owner.label("owner")).join(PROVIDERS).where(owner.in_(identifiers))
        return cls(providers, {(row.owner, row.identifier): row for row in session.execute(query)})


def _plan_models(session: Session, request: ImportRequest, plan: Plan, resulting: dict[str, dict[str, Any]]) -> None:
    mode = request.options.conflictResolution
    refs = _provider_refs(session, request)
    stored = _Stored.fetch(session, {ref for ref in refs if ref})
    plan.providers = stored.providers | resulting
    by_provider: dict[str, list[dict[str, Any]]] = {}
    for index, (raw, ref) in enumerate(zip(request.data.models, refs, strict=True)):
        if plan.full(len(refs) - index):
            break
        prefix = ("data", "models", index)
        body, errors = parse(ModelSpec, _strip(raw), prefix)
        plan.errors += errors
        provider_values = resulting.get(ref or "") or stored.providers.get(ref or "")
        if ref is None or provider_values is None:
            problem = "the model's provider is neither in this file nor stored"
            plan.errors.append(FieldError(".".join(map(str, prefix)), problem))
            continue
        if body is None:
            continue
        values = sent_fields(body, only_set=False)
        by_provider.setdefault(ref, []).append(values)
        limit = (provider_values.get("capabilities") or {}).get("maxContextLength")
        plan.errors += models.problems(values, limit, prefix)
        row = stored.models.get((ref, body.identifier))
        if row is not None and mode == "skip":
            plan.steps.append(Step("model", body.identifier, "skipped", row=row, message="already exists"))
            continue
        changes = _changes(body, mode) if row else values
        action = "updated" if row else "created"
        plan.steps.append(Step("model", body.identifier, action, changes, row, ref, f"model {action}"))
    for ref, specs in by_provider.items():
        plan.errors += from_violations(model_list_violations(specs), ("data", "models", f"<{ref}>"))


def _plan_templates(session: Session, request: ImportRequest, plan: Plan) -> None:
    mode = request.options.conflictResolution
    for index, raw in enumerate(request.data.templates):
        if plan.full(len(request.data.templates) - index):
            break
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
    """Writes the planned steps; every check already passed, so rows go in without per-row lookups."""
    now = utcnow()
    provider_ids = _write_providers(session, plan, actor, now)
    _write_models(session, plan, provider_ids, now)
    for step in plan.steps:
        if step.kind == "template" and step.action == "created":
            step.resource_id = templates.create_row(session, box=box, values=step.values, actor=actor).id
        elif step.kind == "template" and step.action == "updated":
            templates.update_row(session, box=box, row=step.row, changes=step.values)


def _write_providers(session: Session, plan: Plan, actor: str, now: datetime) -> dict[str, str]:
    """Inserts and updates the providers; returns the id of each provider in the file, by identifier."""
    ids: dict[str, str] = {}
    created, updated = [], []
    for step in plan.steps:
        if step.kind != "provider":
            continue
        if step.action == "created" and step.staged is not None:
            row = writes.new_provider(step.staged, actor=actor)
            created.append(row)
            step.resource_id = ids[step.identifier] = row["id"]
            continue
        if step.action == "updated" and step.staged is not None:
            updated.append(writes.provider_changes(step.row, step.staged))
        ids[step.identifier] = step.row.id
    writes.insert_rows(session, PROVIDERS, created, now=now)
    writes.update_rows(session, PROVIDERS, updated, now=now)
    return ids


def _write_models(session: Session, plan: Plan, provider_ids: dict[str, str], now: datetime) -> None:
    steps = [s for s in plan.steps if s.kind == "model" and s.action != "skipped"]
    missing = {s.provider_identifier for s in steps} - provider_ids.keys()
    stored = select(Provider.identifier, Provider.id).where(Provider.identifier.in_(missing))
    provider_ids = provider_ids | dict(session.execute(stored).all())
    created, updated, written = [], [], []
    for step in steps:
        owner = step.provider_identifier or ""
        if step.row is None:
            row = writes.new_model(provider_ids[owner], step.values)
            created.append(row)
            step.resource_id = row["id"]
        else:
            limit = (plan.providers[owner].get("capabilities") or {}).get("maxContextLength")
            row = writes.model_changes(step.row, step.values, limit)
            updated.append(row)
        written.append((provider_ids[owner], row))
    winners = writes.settle_defaults(written)
    writes.insert_rows(session, MODELS, created, now=now)
    writes.update_rows(session, MODELS, updated, now=now)
    writes.clear_other_defaults(session, winners, now=now)


def import_(
    session: Session, *, box: SecretBox, request: ImportRequest, actor: str, auditor: Auditor | None = None
) -> dict[str, Any]:
    """Checks the preconditions, plans the whole file, refuses it with every problem at once, else writes it
    (unless validateOnly).

    ``auditor``: records the import and one entry per written resource, in the caller's transaction.
    """
    with collector_paused():
        return _import(session, box, request, actor, auditor)


def _import(
    session: Session, box: SecretBox, request: ImportRequest, actor: str, auditor: Auditor | None
) -> dict[str, Any]:
    preconditions.check(session, request.options.preconditions)
    plan = Plan()
    resulting = _plan_providers(session, box, request, plan)
    _plan_models(session, request, plan, resulting)
    _plan_templates(session, request, plan)
    if plan.errors:
        raise ValidationFailed(plan.errors, unchecked=plan.unchecked)
    done = [s for s in plan.steps if s.action != "skipped"]
    summary = {
        "providersImported": sum(s.kind == "provider" for s in done),
        "modelsImported": sum(s.kind == "model" for s in done),
        "templatesImported": sum(s.kind == "template" for s in done),
        "conflicts": sum(s.row is not None for s in plan.steps),
        "errors": 0,
    }
    if not request.options.validateOnly:
        _carry_out(session, box, plan, actor)
        if auditor is not None:
            _audit(session, auditor, request, done, summary)
    return {
        "success": True,
        "summary": summary,
        "details": [
            {"type": s.kind, "identifier": s.identifier, "action": s.action, "message": s.message} for s in plan.steps
        ],
    }


def _audit(
    session: Session, auditor: Auditor, request: ImportRequest, done: list[Step], summary: dict[str, int]
) -> None:
    mode = request.options.conflictResolution
    entries = [Entry("import", "registry", details={"conflictResolution": mode, **summary})]
    for step in done:
        details: dict[str, str | int | bool | None] = {"source": "import"}
        if step.provider_identifier is not None:
            details["providerIdentifier"] = step.provider_identifier
        resource_id = step.resource_id or (step.row.id if step.row is not None else None)
        action: Action = "create" if step.action == "created" else "update"
        entries.append(Entry(action, cast(ResourceType, step.kind), resource_id, step.identifier, details))
    auditor.record_many(session, entries)
