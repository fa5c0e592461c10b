"""Bulk export: the whole registry (or chosen providers) in one response, redacted unless a backup asks.

An export of 5,000 providers x 10 models holds 50,000 model objects, so the usual path builds them straight from
plain result rows: each stored JSON value (capabilities, pricing, test results) is embedded in the answer as the
text the database holds (``fastjson.Fragment``), never decoded into Python objects and encoded again, and
timestamps are formatted from the stored text. The answer has the same keys, values and order as the views of
``dpm_server.views`` build; only the whitespace inside those values may differ.

A stored value that strict JSON cannot carry (a non-finite number written by an older version or by hand, or
text that is not JSON at all) sends the whole export down the careful path instead: the views, rendered by
``routers.ok``, which leaves such values out and reports them in ``metadata.problems``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, Text, cast, select, type_coerce
from sqlalchemy.orm import Session

from dpm_server import fastjson
from dpm_server.db.tables import Model, Provider, Template, utcnow
from dpm_server.schemas.requests import ExportRequest
from dpm_server.secretbox import SealedAuth, SecretBox
from dpm_server.services.common import collector_paused
from dpm_server.services.providers import model_counts
from dpm_server.services.registry import current_revision
from dpm_server.views import model_view, opened_auth_view, provider_view, template_view, timestamp

EXPORT_VERSION = "1.0"


@dataclass(frozen=True)
class Exported:
    document: dict[str, Any]
    raw: bool
    """True: the document embeds stored JSON text (``fastjson.Fragment``) and is rendered with ``fastjson``."""


class _NotPlain(Exception):
    """A stored JSON value that the fast path cannot embed as it is."""


def export(session: Session, *, box: SecretBox, body: ExportRequest, actor: str) -> Exported:
    try:
        with collector_paused():
            return Exported(_document(session, box, body, actor, _FastRows()), raw=True)
    except _NotPlain:
        return Exported(_document(session, box, body, actor, _ViewRows()), raw=False)


def _document(session: Session, box: SecretBox, body: ExportRequest, actor: str, rows: _Rows) -> dict[str, Any]:
    opener = box if body.includeSecrets else None
    providers = rows.providers(session, body.providerIds)
    identifiers = {row.id: row.identifier for row in providers}
    counts = model_counts(session, None if body.providerIds is None else list(identifiers))
    models: list[dict[str, Any]] = []
    if body.includeModels:
        models = rows.models(session, identifiers, body.providerIds is not None)
    templates: list[dict[str, Any]] = []
    if body.includeTemplates:
        custom = select(Template).where(Template.is_system.is_(False)).order_by(Template.name)
        templates = [template_view(t, opener) for t in session.scalars(custom)]
    return {
        "data": {
            "providers": [rows.provider(row, counts.get(row.id, 0), opener) for row in providers],
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


class _Rows:
    """Reads the provider and model rows and turns them into the API's shapes."""

    def columns(self, table: type[Provider] | type[Model]) -> list[ColumnElement[Any]]:
        return [table.__table__.c[name] for name in _COLUMNS[table]]

    def providers(self, session: Session, ids: list[str] | None) -> Sequence[Any]:
        query = select(*self.columns(Provider)).order_by(Provider.identifier)
        if ids is not None:
            query = query.where(Provider.id.in_(ids))
        return session.execute(query).all()

    def models(self, session: Session, identifiers: dict[str, str], chosen: bool) -> list[dict[str, Any]]:
        query = select(*self.columns(Model))
        if chosen:
            query = query.where(Model.provider_id.in_(identifiers))
        found = list(session.execute(query).all())
        found.sort(key=lambda m: (identifiers[m.provider_id], m.identifier))  # the views' order, on any collation
        return [self.model(m, identifiers[m.provider_id]) for m in found]

    def provider(self, row: Any, model_count: int, box: SecretBox | None) -> dict[str, Any]:
        raise NotImplementedError

    def model(self, row: Any, provider_identifier: str) -> dict[str, Any]:
        raise NotImplementedError


class _ViewRows(_Rows):
    """The careful path: decoded rows through the views (``routers.ok`` reports what JSON cannot carry)."""

    def provider(self, row: Any, model_count: int, box: SecretBox | None) -> dict[str, Any]:
        return provider_view(row, model_count, box)

    def model(self, row: Any, provider_identifier: str) -> dict[str, Any]:
        return model_view(row, provider_identifier)


_MODEL_COLUMNS = (
    "id",
    "provider_id",
    "identifier",
    "name",
    "description",
    "context_length",
    "capabilities",
    "pricing_info",
    "status",
    "is_default",
    "created_at",
    "updated_at",
    "last_tested",
    "test_result",
    "etag",
)
"""In the order ``_FastRows.model`` unpacks them."""
_COLUMNS: dict[type[Provider] | type[Model], tuple[str, ...]] = {
    Provider: tuple(Provider.__table__.c.keys()),
    Model: _MODEL_COLUMNS,
}
_JSON_COLUMNS = {"auth_config", "secret_ciphertexts", "secret_fingerprints", "capabilities", "pricing_info"}
_JSON_COLUMNS |= {"test_result"}
_TIME_COLUMNS = {"created_at", "updated_at", "last_tested"}


class _FastRows(_Rows):
    """The usual path: stored JSON as text, timestamps as stored, the same shapes as the views."""

    def columns(self, table: type[Provider] | type[Model]) -> list[ColumnElement[Any]]:
        # CAST AS TEXT hands PostgreSQL's json back as the text it stored (json, unlike jsonb, keeps it verbatim)
        # and leaves SQLite's text alone; either way the driver and SQLAlchemy decode nothing.
        def raw(column: Any) -> ColumnElement[Any]:
            if column.name in _JSON_COLUMNS:
                return cast(column, Text).label(column.name)
            if column.name in _TIME_COLUMNS:
                return type_coerce(column, String).label(column.name)
            return column  # type: ignore[no-any-return]

        return [raw(column) for column in super().columns(table)]

    def provider(self, row: Any, model_count: int, box: SecretBox | None) -> dict[str, Any]:
        auth = SealedAuth(
            _decoded(row.auth_config), _decoded(row.secret_ciphertexts), _decoded(row.secret_fingerprints)
        )
        auth_config = _public(auth) if box is None else opened_auth_view(auth, box)
        view = {
            "id": row.id,
            "identifier": row.identifier,
            "name": row.name,
            "description": row.description,
            "apiEndpoint": row.api_endpoint,
            "authMethod": row.auth_method,
            "authConfig": auth_config,
            "capabilities": _fragment(row.capabilities),
            "status": row.status,
            "isSystem": row.is_system,
            "modelCount": model_count,
            "createdBy": row.created_by,
            "createdAt": _stamp(row.created_at),
            "updatedAt": _stamp(row.updated_at),
            "lastTested": _stamp(row.last_tested),
            "testResult": _fragment(row.test_result),
            "etag": row.etag,
        }
        return _present(view)

    def model(self, row: Any, provider_identifier: str) -> dict[str, Any]:
        # Unpacked by position and built key by key in the views' order, leaving out what is absent: 50,000 of
        # these make up most of an export, and attribute lookups on the row or a pass to drop nulls cost a third.
        (id_, provider_id, identifier, name, description, context_length, capabilities, pricing_info, status,
         is_default, created_at, updated_at, last_tested, test_result, etag) = row  # fmt: skip
        view = {
            "id": id_,
            "providerId": provider_id,
            "providerIdentifier": provider_identifier,
            "identifier": identifier,
            "name": name,
        }
        if description is not None:
            view["description"] = description
        view["contextLength"] = context_length
        if (capabilities := _fragment(capabilities)) is not None:
            view["capabilities"] = capabilities
        if (pricing := _fragment(pricing_info)) is not None:
            view["pricingInfo"] = pricing
        view["status"] = status
        view["isDefault"] = is_default
        view["createdAt"] = _stamp(created_at)
        view["updatedAt"] = _stamp(updated_at)
        if last_tested is not None:
            view["lastTested"] = _stamp(last_tested)
        if (result := _fragment(test_result)) is not None:
            view["testResult"] = result
        view["etag"] = etag
        return view


def _public(auth: SealedAuth) -> dict[str, Any]:
    """``SecretBox.public`` without its defensive copy: the config was decoded for this answer alone."""
    config = auth.config
    config.setdefault("fields", {})
    config.setdefault("headers", {})
    config["fieldFingerprints"] = auth.fingerprints
    return config


def _present(view: dict[str, Any]) -> dict[str, Any]:
    """Absent, never null (as the views): most values are present, so deleting the few nulls beats a copy."""
    for key in [key for key, value in view.items() if value is None]:
        del view[key]
    return view


def _fragment(text: str | None) -> Any:
    """Stored JSON text for embedding, or None for SQL NULL and JSON null (the views leave both out)."""
    if text is None or text == "null":
        return None
    # orjson's parser is strict: it refuses NaN, infinities (1e400 included) and integers beyond 64 bits, which
    # are exactly the values the careful path must see. Parsing a value and dropping it costs a third of what
    # keeping it and encoding it again would.
    try:
        fastjson.loads(text)
    except ValueError:
        raise _NotPlain from None
    return fastjson.Fragment(text)


def _decoded(text: str | None) -> Any:
    if text is None:
        return {}
    try:
        return fastjson.loads(text)
    except ValueError:
        raise _NotPlain from None


_SQLITE_STAMP = len("2026-01-31 12:34:56.789012")


def _stamp(stored: str | datetime | None) -> str | None:
    """``views.timestamp`` of a stored moment: SQLite holds naive UTC text, PostgreSQL's driver returns a naive
    UTC datetime. The text is cut rather than parsed (milliseconds truncated, as ``isoformat`` does)."""
    if stored is None:
        return None
    if isinstance(stored, str):
        if len(stored) == _SQLITE_STAMP and stored[10] == " ":
            return f"{stored[:10]}T{stored[11:23]}Z"
        stored = datetime.fromisoformat(stored)
    return timestamp(stored.replace(tzinfo=UTC))
