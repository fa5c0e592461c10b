"""Rows to the API's JSON shapes. Secrets leave only as "[REDACTED]" plus fingerprints."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from dpm_server.db.tables import Model, Provider, Template
from dpm_server.secretbox import SealedAuth, SecretBox


def timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def maybe_timestamp(moment: datetime | None) -> str | None:
    return timestamp(moment) if moment is not None else None


def provider_auth(row: Provider | Row[Any]) -> SealedAuth:
    return SealedAuth(row.auth_config, dict(row.secret_ciphertexts), dict(row.secret_fingerprints))


def template_auth(row: Template) -> SealedAuth | None:
    auth = row.provider_config.get("authConfig")
    if auth is None:
        return None
    return SealedAuth(auth, dict(row.secret_ciphertexts), dict(row.secret_fingerprints))


def provider_view(row: Provider | Row[Any], model_count: int, box: SecretBox | None = None) -> dict[str, Any]:
    """The Provider shape; ``box`` is given only for a full backup, which returns secrets in clear."""
    auth = provider_auth(row)
    auth_config = SecretBox.public(auth)
    if box is not None:
        auth_config = {**box.open(auth), "fieldFingerprints": dict(row.secret_fingerprints)}
        auth_config.setdefault("headers", {})
    return {
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


def model_view(row: Model | Row[Any], provider_identifier: str) -> dict[str, Any]:
    """The Model shape, from an ORM row or a plain result row (bulk export skips the ORM for speed)."""
    return {
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


def template_view(row: Template, box: SecretBox | None = None) -> dict[str, Any]:
    config = copy.deepcopy(row.provider_config)
    auth = template_auth(row)
    if auth is not None:
        config["authConfig"] = SecretBox.public(auth) if box is None else box.open(auth)
    return {
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
