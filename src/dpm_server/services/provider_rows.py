"""How a provider is staged and written: merge the sent fields, seal the secrets, check every rule.

PUT, import (merge and replace) and template apply all write providers through ``stage`` and ``assign``, so the
partial-update and secret-keeping semantics are defined once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from dpm.resources.rules import provider_violations
from dpm.resources.secrets import REDACTED
from dpm_server.db.tables import Provider, utcnow
from dpm_server.errors import FieldError
from dpm_server.secretbox import SealedAuth, SecretBox
from dpm_server.services.common import new_etag
from dpm_server.validation import from_violations
from dpm_server.views import provider_auth

# API field name -> column, for the plain columns.
COLUMNS = {
    "identifier": "identifier",
    "name": "name",
    "description": "description",
    "apiEndpoint": "api_endpoint",
    "authMethod": "auth_method",
    "capabilities": "capabilities",
    "status": "status",
}


@dataclass
class StagedProvider:
    values: dict[str, Any]
    auth: SealedAuth
    problems: list[FieldError]


def sent_fields(body: BaseModel, *, only_set: bool) -> dict[str, Any]:
    """A request model as stored JSON: nested objects keep their defaults and drop their nulls."""
    names = body.model_fields_set if only_set else type(body).model_fields.keys()
    values = {}
    for name in names:
        value = getattr(body, name)
        if isinstance(value, BaseModel):
            value = value.model_dump(exclude_none=True)
        elif isinstance(value, list):
            value = [v.model_dump(exclude_none=True) if isinstance(v, BaseModel) else v for v in value]
        values[name] = value
    return values


def stored_fields(row: Provider) -> dict[str, Any]:
    return {api: getattr(row, column) for api, column in COLUMNS.items()} | {"authConfig": row.auth_config}


def stage(box: SecretBox, changes: Mapping[str, Any], row: Provider | None = None) -> StagedProvider:
    """The provider that results from applying ``changes`` (API-shaped) to ``row`` (None: a new provider)."""
    values = {**(stored_fields(row) if row else {}), **changes}
    previous = provider_auth(row) if row else None
    if "authConfig" in changes:
        auth = box.seal(changes["authConfig"], previous)
    else:
        auth = previous or box.seal(values.get("authConfig") or {})
    values["authConfig"] = auth.config
    return StagedProvider(values, auth, problems(as_sent(values, changes)))


def as_sent(values: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as the rules must see them: each secret the client sent in its own value, not as the
    ``"[REDACTED]"`` that sealing left in its place, so that an empty or blank secret is missing. A secret kept
    from storage (sent as ``"[REDACTED]"`` or left out) stays ``"[REDACTED]"``, which is present."""
    sent_auth = changes.get("authConfig")
    sent = sent_auth.get("fields") if isinstance(sent_auth, Mapping) else None
    if not isinstance(sent, Mapping):
        return values
    stored = values["authConfig"].get("fields") or {}
    fields = {**stored, **{name: value for name, value in sent.items() if value != REDACTED}}
    return {**values, "authConfig": {**values["authConfig"], "fields": fields}}


def problems(values: Mapping[str, Any]) -> list[FieldError]:
    return from_violations(provider_violations(values))


def assign(row: Provider, staged: StagedProvider) -> None:
    for api, column in COLUMNS.items():
        # Unchanged columns are not written back: a stored value that cannot be written any more (a non-finite
        # number on PostgreSQL) must not stop an update of the other fields.
        if api in staged.values and getattr(row, column, None) != staged.values[api]:
            setattr(row, column, staged.values[api])
    row.auth_config = staged.auth.config
    row.secret_ciphertexts = staged.auth.ciphertexts
    row.secret_fingerprints = staged.auth.fingerprints
    row.updated_at = utcnow()
    row.etag = new_etag()
