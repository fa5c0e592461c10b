"""The resource vocabulary: one definition of providers, models and templates for both sides.

The compiler validates config documents with these models and generates the published JSON Schemas from them;
the registry server validates request bodies with the same models. Field names are the API's own (camelCase),
so an example pasted from the guide validates unchanged.

Models are strict (no type coercion: ``"8192"`` is not an int) and forbid unknown keys, so a typo is an error
rather than a silently ignored field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PROVIDER_IDENTIFIER_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
MODEL_IDENTIFIER_PATTERN = r"^[A-Za-z0-9._:/-]+$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"

AuthMethod = Literal["api_key", "oauth2", "aws_iam", "custom"]
ProviderStatus = Literal["active", "inactive", "testing"]
ModelStatus = Literal["active", "inactive", "deprecated"]

AUTH_METHODS: tuple[str, ...] = ("api_key", "oauth2", "aws_iam", "custom")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


ProviderIdentifier = Field(
    min_length=2,
    max_length=50,
    pattern=PROVIDER_IDENTIFIER_PATTERN,
    description="Unique, immutable provider key: lowercase letters, digits and single hyphens.",
)
DisplayName = Field(min_length=1, max_length=255, description="Display name.")
Description = Field(default=None, max_length=1000)


class RateLimitConfig(Strict):
    requestsPerMinute: int | None = Field(default=None, ge=1)
    tokensPerMinute: int | None = Field(default=None, ge=1)
    concurrentRequests: int | None = Field(default=None, ge=1)


class AuthConfig(Strict):
    type: AuthMethod = Field(description="Must equal the provider's authMethod.")
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="Credential fields. Sensitive ones (apiKey, clientSecret, …) are encrypted and never returned.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="HTTP headers sent to the provider; {{field}} placeholders are filled from fields.",
    )
    testEndpoint: str | None = Field(default=None, json_schema_extra={"format": "uri"})


class ProviderCapabilities(Strict):
    supportsSystemMessages: bool
    maxContextLength: int = Field(ge=1)
    supportedRoles: list[str]
    supportsStreaming: bool
    supportsTools: bool
    supportedAuthMethods: list[AuthMethod] | None = None
    rateLimits: RateLimitConfig | None = None


class ModelCapabilities(Strict):
    supportsSystemMessages: bool
    maxContextLength: int = Field(ge=1)
    supportedRoles: list[str]
    supportsStreaming: bool
    supportsTools: bool
    supportsFunctionCalling: bool
    supportsVision: bool | None = None
    supportsAudio: bool | None = None


class PricingInfo(Strict):
    inputTokenPrice: float | None = Field(default=None, ge=0, description="Price per 1000 input tokens.")
    outputTokenPrice: float | None = Field(default=None, ge=0, description="Price per 1000 output tokens.")
    currency: str = Field(default="USD", pattern=CURRENCY_PATTERN, description="ISO 4217 code, e.g. USD.")


class ProviderFields(Strict):
    """CreateProviderRequest: what a client sends to create a provider."""

    identifier: str = ProviderIdentifier
    name: str = DisplayName
    description: str | None = Description
    apiEndpoint: str = Field(json_schema_extra={"format": "uri"})
    authMethod: AuthMethod
    authConfig: AuthConfig
    capabilities: ProviderCapabilities


class ModelFields(Strict):
    """CreateModelRequest: what a client sends to add a model to a provider."""

    identifier: str = Field(min_length=1, max_length=100, pattern=MODEL_IDENTIFIER_PATTERN)
    name: str = DisplayName
    description: str | None = Description
    contextLength: int = Field(ge=1)
    capabilities: ModelCapabilities
    pricingInfo: PricingInfo | None = None
    isDefault: bool = False


# ---------------------------------------------------------------------------------------------------------------
# Config documents (what users write in providers.d/)


class ModelSpec(ModelFields):
    """A model inside a Provider document or a template's defaultModels."""

    status: ModelStatus = "active"


class ProviderDocument(ProviderFields):
    """``kind: Provider``: a provider written out in full, with its models."""

    kind: Literal["Provider"]
    status: ProviderStatus = "active"
    models: list[ModelSpec] = Field(default_factory=list)


class TemplatedProviderDocument(Strict):
    """``kind: Provider`` with ``fromTemplate``: a provider built as the API's template apply builds it."""

    kind: Literal["Provider"]
    identifier: str = ProviderIdentifier
    name: str = DisplayName
    fromTemplate: str = Field(min_length=1, description="Name of a template in the config, or a system template id.")
    customizations: dict[str, Any] = Field(
        default_factory=dict,
        description="description, apiEndpoint, capabilities and status override the template; "
        "every other key fills authConfig.fields.",
    )


class TemplateProviderConfig(Strict):
    """The provider a template builds, less the identifier and name that apply supplies."""

    description: str | None = Description
    apiEndpoint: str | None = Field(default=None, json_schema_extra={"format": "uri"})
    authMethod: AuthMethod | None = None
    authConfig: AuthConfig | None = None
    capabilities: ProviderCapabilities | None = None
    status: ProviderStatus | None = None


class ProviderTemplateDocument(Strict):
    """``kind: ProviderTemplate``: a reusable provider configuration, keyed by name."""

    kind: Literal["ProviderTemplate"]
    name: str = DisplayName
    description: str | None = Description
    providerConfig: TemplateProviderConfig
    defaultModels: list[ModelSpec] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# Project files


class ProjectConfig(Strict):
    """``dpm.yaml``: project-wide settings, all optional."""

    registry: str | None = Field(default=None, description="Registry API base URL, e.g. http://localhost:8000/api.")
    vars: dict[str, Any] = Field(default_factory=dict, description="Variables for ${{ vars.NAME }}.")
    scope: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Glob patterns of the provider identifiers dpm manages. System providers are never managed.",
    )
    prune: bool = Field(default=False, description="Delete providers in scope that the files lack.")
    maxDeletes: int = Field(default=5, ge=0, description="Deletes beyond this need --allow-deletes.")


class EnvironmentConfig(Strict):
    """``environments/<name>.yaml``: overrides chosen with ``--env <name>``."""

    registry: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)


DOCUMENT_KINDS: tuple[str, ...] = ("Provider", "ProviderTemplate")
