"""Rows to the API's JSON shapes. Secrets leave only as "[REDACTED]" plus fingerprints.

An optional field that has no value is left out, never sent as ``null`` (CONTRACT.md): clients generated from the
upstream OpenAPI, which types ``description``, ``lastTested`` or ``testResult`` as non-nullable, read the shapes as
they are.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from dpm_server.db.tables import Model, Provider, Template
from dpm_server.secretbox import SealedAuth, SecretBox


def timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def maybe_timestamp(moment: datetime | None) -> str | None:
    return timestamp(moment) if moment is not None else None


def _present(view: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in view.items() if value is not None}


def provider_auth(row: Provider | Row[Any]) -> SealedAuth:
    return SealedAuth(row.auth_config, dict(row.secret_ciphertexts), dict(row.secret_fingerprints))


def template_auth(row: Template) -> SealedAuth | None:
    auth = row.provider_config.get("authConfig")
    if auth is None:
        return None
    return SealedAuth(auth, dict(row.secret_ciphertexts), dict(row.secret_fingerprints))


def opened_auth_view(auth: SealedAuth, box: SecretBox) -> dict[str, Any]:
    """A provider's authConfig with its secrets in clear, and their fingerprints: for a full backup only."""
    shown = {**box.open(auth), "fieldFingerprints": dict(auth.fingerprints)}
    shown.setdefault("headers", {})
    return shown


def provider_view(row: Provider | Row[Any], model_count: int, box: SecretBox | None = None) -> dict[str, Any]:
    """The Provider shape; ``box`` is given only for a full backup, which returns secrets in clear."""
    auth = provider_auth(row)
    auth_config = SecretBox.public(auth) if box is None else opened_auth_view(auth, box)
    return _present(
        {
            "id": row.id,
            "identifier": row.identifier,
            "name": row.name,
            "description": row.description,
            "apiEndpoint": row.api_endpoint,
            "authMethod": row.auth_method,
            "authConfig": auth_config,
            "capabilities": row.capabilities,
            "status": row.status,
            "isSystem": row.is_system,
            "modelCount": model_count,
            "createdBy": row.created_by,
            "createdAt": timestamp(row.created_at),
            "updatedAt": timestamp(row.updated_at),
            "lastTested": maybe_timestamp(row.last_tested),
            "testResult": row.test_result,
            "etag": row.etag,
        }
    )


def model_view(row: Model | Row[Any], provider_identifier: str) -> dict[str, Any]:
    """The Model shape, from an ORM row or a plain result row (bulk export skips the ORM for speed)."""
    return _present(
        {
            "id": row.id,
            "providerId": row.provider_id,
            "providerIdentifier": provider_identifier,
            "identifier": row.identifier,
            "name": row.name,
            "description": row.description,
            "contextLength": row.context_length,
            "capabilities": row.capabilities,
            "pricingInfo": row.pricing_info,
            "status": row.status,
            "isDefault": row.is_default,
            "createdAt": timestamp(row.created_at),
            "updatedAt": timestamp(row.updated_at),
            "lastTested": maybe_timestamp(row.last_tested),
            "testResult": row.test_result,
            "etag": row.etag,
        }
    )


def template_view(row: Template, box: SecretBox | None = None) -> dict[str, Any]:
    config = copy.deepcopy(row.provider_config)
    auth = template_auth(row)
    if auth is not None:
        config["authConfig"] = SecretBox.public(auth) if box is None else box.open(auth)
    return _present(
        {
            "id": row.id,
            "name": row.name,
            "description": row.description,
            "providerConfig": config,
            "defaultModels": row.default_models,
            "isSystem": row.is_system,
            "createdBy": row.created_by,
            "createdAt": timestamp(row.created_at),
            "updatedAt": timestamp(row.updated_at),
            "etag": row.etag,
        }
    )


@dataclass(frozen=True)
class DataProblem:
    """A stored value that JSON cannot carry (a non-finite number written by an older version or by hand)."""

    resource_type: str
    id: str | None
    identifier: str | None
    field: str

    def to_json(self) -> dict[str, Any]:
        body = {"resourceType": self.resource_type, "field": self.field, "message": NON_FINITE_MESSAGE}
        return body | {k: v for k, v in (("id", self.id), ("identifier", self.identifier)) if v is not None}


NON_FINITE_MESSAGE = "the stored value is not a finite number and was left out; write a new value to repair it"


def _resource_type(view: Mapping[str, Any]) -> str:
    if "providerId" in view:
        return "model"
    if "providerConfig" in view:
        return "template"
    return "provider" if "apiEndpoint" in view else "resource"


def omit_non_finite(content: Any) -> tuple[Any, list[DataProblem]]:
    """``content`` without its non-finite numbers (each key or list item is left out), and where they were.

    Only called when rendering failed, so the usual answer pays nothing for it. Each problem names the nearest
    enclosing resource (an object with an ``id``), and the field's path inside it."""
    problems: list[DataProblem] = []

    def clean(value: Any, owner: Mapping[str, Any] | None, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(
                DataProblem(
                    _resource_type(owner) if owner is not None else "resource",
                    owner.get("id") if owner is not None else None,
                    (owner.get("identifier") or owner.get("name")) if owner is not None else None,
                    ".".join(map(str, path)),
                )
            )
            return _OMIT
        if isinstance(value, Mapping):
            here, base = (value, ()) if "id" in value else (owner, path)
            kept = {k: clean(v, here, (*base, k)) for k, v in value.items()}
            return {k: v for k, v in kept.items() if v is not _OMIT}
        if isinstance(value, list):
            return [v for v in (clean(v, owner, (*path, i)) for i, v in enumerate(value)) if v is not _OMIT]
        return value

    return clean(content, None, ()), problems


_OMIT = object()
