"""Request bodies. Create bodies are the shared vocabulary's models; updates are their all-optional variants.

All are strict and forbid unknown keys, so mass assignment of ``id``, ``isSystem`` or ``createdAt`` is refused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dpm.resources.models import (
    AuthConfig,
    AuthMethod,
    Description,
    DisplayName,
    ModelCapabilities,
    ModelSpec,
    ModelStatus,
    PricingInfo,
    ProviderCapabilities,
    ProviderFields,
    ProviderIdentifier,
    ProviderStatus,
    TemplateProviderConfig,
)

OptionalName = Field(default=None, min_length=1, max_length=255, description="Display name.")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=255, description="User name or email.")
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(Strict):
    refreshToken: str = Field(min_length=1, max_length=4096)


class ProviderCreate(ProviderFields):
    status: ProviderStatus = "active"


class ProviderUpdate(Strict):
    """A partial update: a sent nested object replaces the stored one whole, except redacted or omitted secrets."""

    name: str | None = OptionalName
    description: str | None = Description
    apiEndpoint: str | None = Field(default=None, json_schema_extra={"format": "uri"})
    authMethod: AuthMethod | None = None
    authConfig: AuthConfig | None = None
    capabilities: ProviderCapabilities | None = None
    status: ProviderStatus | None = None


ModelCreate = ModelSpec


class ModelUpdate(Strict):
    name: str | None = OptionalName
    description: str | None = Description
    contextLength: int | None = Field(default=None, ge=1)
    capabilities: ModelCapabilities | None = None
    pricingInfo: PricingInfo | None = None
    status: ModelStatus | None = None
    isDefault: bool | None = None


class TemplateCreate(Strict):
    name: str = DisplayName
    description: str | None = Description
    providerConfig: TemplateProviderConfig
    defaultModels: list[ModelSpec] = Field(default_factory=list)


class TemplateUpdate(Strict):
    name: str | None = OptionalName
    description: str | None = Description
    providerConfig: TemplateProviderConfig | None = None
    defaultModels: list[ModelSpec] | None = None


class ApplyTemplateRequest(Strict):
    identifier: str = ProviderIdentifier
    name: str = DisplayName
    customizations: dict[str, Any] = Field(
        default_factory=dict,
        description="description, apiEndpoint, capabilities and status override the template; "
        "every other key fills authConfig.fields.",
    )


class ExportRequest(Strict):
    providerIds: list[str] | None = Field(default=None, max_length=10_000)
    includeModels: bool = True
    includeTemplates: bool = False
    includeSecrets: bool = Field(default=False, description="Secrets in clear, for a full admin backup.")


class ImportData(Strict):
    providers: list[dict[str, Any]] = Field(default_factory=list)
    models: list[dict[str, Any]] = Field(default_factory=list)
    templates: list[dict[str, Any]] = Field(default_factory=list)


class ImportOptions(Strict):
    conflictResolution: Literal["merge", "replace", "skip"] = "merge"
    validateOnly: bool = False


class ImportRequest(Strict):
    """An import body; an export document is one too (its ``metadata`` is ignored)."""

    data: ImportData
    options: ImportOptions = Field(default_factory=ImportOptions)
    metadata: dict[str, Any] | None = None


# Fields that may be null in an update; a null anywhere else is refused rather than read as "unchanged".
NULLABLE_UPDATE_FIELDS = frozenset({"description", "pricingInfo"})
