"""The resource vocabulary: one definition of providers, models and templates for both sides.

The compiler validates config documents with these models and generates the published JSON Schemas from them;
the registry server validates request bodies with the same models. Field names are the API's own (camelCase),
so an example pasted from the guide validates unchanged.

Models are strict (no type coercion: ``"8192"`` is not an int) and forbid unknown keys, so a typo is an error
rather than a silently ignored field. Every number is finite (``.inf``, ``NaN`` and ``1e400`` are refused) and every
integer fits a signed 32-bit column; no text holds a NUL character (PostgreSQL cannot store one).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from dpm.resources.templates import TOP_LEVEL_CUSTOMIZATIONS

PROVIDER_IDENTIFIER_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
MODEL_IDENTIFIER_PATTERN = r"^[A-Za-z0-9._:/-]+$"
# Reserved for the canary copies of a gated apply, which dpm creates and deletes within one run: a config may not
# use it, so that a canary never overwrites, and is never mistaken for, a provider of the config.
CANARY_PREFIX = "dpm-canary-"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
# What a value that misses one of these patterns is told, on both sides: (message, suggestion).
PATTERN_HELP: dict[str, tuple[str, str]] = {
    PROVIDER_IDENTIFIER_PATTERN: (
        "Provider identifier must be lowercase alphanumeric with hyphens only",
        "Use format: my-provider-name",
    ),
    MODEL_IDENTIFIER_PATTERN: (
        "Model identifier may contain only letters, digits and . _ : / -",
        "Use the provider's own model id, e.g. gpt-4o or llama3.1:8b",
    ),
    CURRENCY_PATTERN: ("currency must be three uppercase letters", "Use an ISO 4217 code such as USD"),
}

AuthMethod = Literal["api_key", "oauth2", "aws_iam", "custom"]
ProviderStatus = Literal["active", "inactive", "testing"]
ModelStatus = Literal["active", "inactive", "deprecated"]

MAX_INT = 2**31 - 1  # every integer fits a signed 32-bit column on every database


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "Text may not contain a NUL character")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


def plain_json_problem(value: Any) -> str | None:
    """Why ``value`` (free-form JSON) cannot be stored, or None: a non-finite number or a NUL character, with
    where it is. Iterative, so that deep nesting costs no recursion; the walk is as long as the value itself."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        problem = None
        if isinstance(item, float) and not math.isfinite(item):
            problem = "Input should be a finite number"
        elif isinstance(item, str) and "\x00" in item:
            problem = "Text may not contain a NUL character"
        elif isinstance(item, dict):
            for key, child in item.items():
                stack += [((*path, key), key), ((*path, key), child)]
        elif isinstance(item, list):
            stack += [((*path, index), child) for index, child in enumerate(item)]
        if problem is not None:
            return f"{problem} (at {'.'.join(map(str, path))})" if path else problem
    return None


def _plain_json(value: Any) -> Any:
    problem = plain_json_problem(value)
    if problem is not None:
        raise PydanticCustomError("unstorable_value", problem)
    return value


JsonData = Annotated[Any, AfterValidator(_plain_json)]
"""Free-form JSON that the registry stores or reads: the same finite-number and no-NUL rules as typed fields."""


def _customization_fields(value: dict[str, Any]) -> dict[str, Any]:
    # Keys other than the top-level ones fill authConfig.fields, whose values are strings.
    errors = [
        InitErrorDetails(
            type=PydanticCustomError(
                "string_type", "'{key}' fills authConfig.fields, whose values are strings", {"key": key}
            ),
            loc=(key,),
            input=item,
        )
        for key, item in value.items()
        if key not in TOP_LEVEL_CUSTOMIZATIONS and item is not None and not isinstance(item, str)
    ]
    if errors:
        raise ValidationError.from_exception_data("customizations", errors)
    return value


UNKNOWN_KEYS_LISTED = 100
"""An object with more unknown keys than this reports this many, plus one ``too_many_errors`` entry that counts
the rest: a hostile body with 200,000 unknown keys costs a scan of its keys, not 200,000 errors."""
MAX_ENTRIES = 100  # keys of fields, headers and customizations; items of supportedRoles and supportedAuthMethods
MAX_DEFAULT_MODELS = 1000


def _at_most(limit: int) -> BeforeValidator:
    # Checked before the items are, so that an oversized container is one error, not one per item.
    def check(value: Any) -> Any:
        if isinstance(value, dict | list) and len(value) > limit:
            raise PydanticCustomError(
                "too_long", "may hold at most {limit} entries, not {count}", {"limit": limit, "count": len(value)}
            )
        return value

    return BeforeValidator(check)


def too_many_unknown_keys(title: str, data: dict[str, Any], known: Any) -> ValidationError:
    """The first ``UNKNOWN_KEYS_LISTED`` unknown keys of ``data`` as errors, and one more counting the others."""
    unknown = [key for key in data if key not in known]
    errors = [
        InitErrorDetails(type="extra_forbidden", loc=(key,), input=data[key]) for key in unknown[:UNKNOWN_KEYS_LISTED]
    ]
    rest = len(unknown) - UNKNOWN_KEYS_LISTED
    marker = PydanticCustomError("too_many_errors", "{omitted} more unknown keys are not listed", {"omitted": rest})
    errors.append(InitErrorDetails(type=marker, loc=(), input=None))
    return ValidationError.from_exception_data(title, errors)


Customizations = Annotated[dict[Text, JsonData], _at_most(MAX_ENTRIES), AfterValidator(_customization_fields)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _few_unknown_keys(cls, data: Any) -> Any:
        # A before validator, not a wrap one: it runs for every object of a large config, and costs half as much.
        if isinstance(data, dict) and len(data) > len(cls.model_fields) + UNKNOWN_KEYS_LISTED:
            known = cls.model_fields
            if sum(1 for key in data if key not in known) > UNKNOWN_KEYS_LISTED:
                raise too_many_unknown_keys(cls.__name__, data, known)
        return data


ProviderIdentifier = Field(
    min_length=2,
    max_length=50,
    pattern=PROVIDER_IDENTIFIER_PATTERN,
    description="Unique, immutable provider key: lowercase letters, digits and single hyphens.",
)
DisplayName = Field(min_length=1, max_length=255, description="Display name.")
Description = Field(default=None, max_length=1000)


class RateLimitConfig(Strict):
    requestsPerMinute: int | None = Field(default=None, ge=1, le=MAX_INT)
    tokensPerMinute: int | None = Field(default=None, ge=1, le=MAX_INT)
    concurrentRequests: int | None = Field(default=None, ge=1, le=MAX_INT)


class AuthConfig(Strict):
    type: AuthMethod = Field(description="Must equal the provider's authMethod.")
    fields: Annotated[dict[Text, Text | None], _at_most(MAX_ENTRIES)] = Field(
        default_factory=dict,
        description="Credential fields, as strings. Sensitive ones (apiKey, clientSecret, …) are encrypted and never "
        "returned; null removes a stored one in an update.",
    )
    headers: Annotated[dict[Text, Text], _at_most(MAX_ENTRIES)] = Field(
        default_factory=dict,
        description="HTTP headers sent to the provider; {{field}} placeholders are filled from fields.",
    )
    testEndpoint: Text | None = Field(default=None, json_schema_extra={"format": "uri"})


class ProviderCapabilities(Strict):
    supportsSystemMessages: bool
    maxContextLength: int = Field(ge=1, le=MAX_INT)
    supportedRoles: list[Text] = Field(max_length=MAX_ENTRIES)
    supportsStreaming: bool
    supportsTools: bool
    supportedAuthMethods: list[AuthMethod] | None = Field(default=None, max_length=MAX_ENTRIES)
    rateLimits: RateLimitConfig | None = None


class ModelCapabilities(Strict):
    supportsSystemMessages: bool
    maxContextLength: int = Field(ge=1, le=MAX_INT)
    supportedRoles: list[Text] = Field(max_length=MAX_ENTRIES)
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
    name: Text = DisplayName
    description: Text | None = Description
    apiEndpoint: Text = Field(json_schema_extra={"format": "uri"})
    authMethod: AuthMethod
    authConfig: AuthConfig
    capabilities: ProviderCapabilities


class ModelFields(Strict):
    """CreateModelRequest: what a client sends to add a model to a provider."""

    identifier: str = Field(min_length=1, max_length=100, pattern=MODEL_IDENTIFIER_PATTERN)
    name: Text = DisplayName
    description: Text | None = Description
    contextLength: int = Field(ge=1, le=MAX_INT)
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
    name: Text = DisplayName
    fromTemplate: Text = Field(min_length=1, description="Name of a template in the config, or a system template id.")
    customizations: Customizations = Field(
        default_factory=dict,
        description="description, apiEndpoint, capabilities and status override the template; "
        "every other key fills authConfig.fields.",
    )


class TemplateProviderConfig(Strict):
    """The provider a template builds, less the identifier and name that apply supplies."""

    description: Text | None = Description
    apiEndpoint: Text | None = Field(default=None, json_schema_extra={"format": "uri"})
    authMethod: AuthMethod | None = None
    authConfig: AuthConfig | None = None
    capabilities: ProviderCapabilities | None = None
    status: ProviderStatus | None = None


class ProviderTemplateDocument(Strict):
    """``kind: ProviderTemplate``: a reusable provider configuration, keyed by name."""

    kind: Literal["ProviderTemplate"]
    name: Text = DisplayName
    description: Text | None = Description
    providerConfig: TemplateProviderConfig
    defaultModels: list[ModelSpec] = Field(default_factory=list, max_length=MAX_DEFAULT_MODELS)


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
    rollout: Literal["direct", "gated"] = Field(
        default="direct",
        description="gated: apply tests what it makes routable before it is active, and an active provider's new "
        "connection settings on a canary copy first (as dpm apply --gate); direct: it writes the config as it is.",
    )
    # Policies (dpm.policy): read here so that dpm.yaml stays one strict document; dpm.policy checks the entries.
    policies: list[str] = Field(
        default_factory=list, description="More policy files or directories, beside the policies/ folder."
    )
    extends: list[str] = Field(default_factory=list, description="Built-in policy packs: dpm:recommended.")
    disable: list[str] = Field(default_factory=list, description="Names of policies to turn off (built-in or not).")
    waivers: list[Any] = Field(
        default_factory=list,
        description="Exceptions to a policy: policy, identifier, optional path and environments, and a required "
        "reason and expires date (a waiver without them does not apply, and its finding says why).",
    )


class EnvironmentConfig(Strict):
    """``environments/<name>.yaml``: overrides chosen with ``--env <name>``."""

    registry: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)


DOCUMENT_KINDS: tuple[str, ...] = ("Provider", "ProviderTemplate")
