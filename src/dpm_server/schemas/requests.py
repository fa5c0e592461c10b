"""Request bodies. Create bodies are the shared vocabulary's models; updates are their all-optional variants.

All are strict and forbid unknown keys, so mass assignment of ``id``, ``isSystem`` or ``createdAt`` is refused.
They follow the shared vocabulary's storage rules too: finite numbers, 32-bit integers, no NUL in any text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from dpm.resources.models import (
    MAX_DEFAULT_MODELS,
    MAX_INT,
    Customizations,
    Description,
    DisplayName,
    JsonData,
    ModelCapabilities,
    ModelSpec,
    ModelStatus,
    PricingInfo,
    ProviderFields,
    ProviderIdentifier,
    ProviderStatus,
    Strict,
    TemplateProviderConfig,
    Text,
    plain_json_problem,
)
from dpm.resources.rules import provider_violations
from dpm_server.validation import with_violations

OVERSIZED = frozenset({"too_long", "too_many_errors"})
OptionalName = Field(default=None, min_length=1, max_length=255, description="Display name.")


class LoginRequest(Strict):
    username: Text = Field(min_length=1, max_length=255, description="User name or email.")
    password: Text = Field(min_length=1, max_length=1024)


class RefreshRequest(Strict):
    refreshToken: Text = Field(min_length=1, max_length=4096)


class ProviderCreate(ProviderFields):
    status: ProviderStatus = "active"

    @model_validator(mode="wrap")
    @classmethod
    def _every_failure(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # The rules run in the services once the schema holds; when it does not, they run here on what was sent,
        # so that one answer lists every failure.
        try:
            return handler(data)
        except ValidationError as exc:
            # Rules on oversized containers would cost as much as the body is large: those answers list only the
            # schema's errors.
            if not isinstance(data, dict) or any(e["type"] in OVERSIZED for e in exc.errors(include_url=False)):
                raise
            raise with_violations(exc, provider_violations(data)) from None


class ProviderUpdate(TemplateProviderConfig):
    """A partial update: every field a template may give a provider, and the name. A sent nested object replaces
    the stored one whole, except redacted or omitted secrets."""

    name: Text | None = OptionalName


ModelCreate = ModelSpec


class ModelUpdate(Strict):
    name: Text | None = OptionalName
    description: Text | None = Description
    contextLength: int | None = Field(default=None, ge=1, le=MAX_INT)
    capabilities: ModelCapabilities | None = None
    pricingInfo: PricingInfo | None = None
    status: ModelStatus | None = None
    isDefault: bool | None = None


class TemplateCreate(Strict):
    name: Text = DisplayName
    description: Text | None = Description
    providerConfig: TemplateProviderConfig
    defaultModels: list[ModelSpec] = Field(default_factory=list, max_length=MAX_DEFAULT_MODELS)


class TemplateUpdate(Strict):
    name: Text | None = OptionalName
    description: Text | None = Description
    providerConfig: TemplateProviderConfig | None = None
    defaultModels: list[ModelSpec] | None = Field(default=None, max_length=MAX_DEFAULT_MODELS)


class ApplyTemplateRequest(Strict):
    identifier: str = ProviderIdentifier
    name: Text = DisplayName
    customizations: Customizations = Field(
        default_factory=dict,
        description="description, apiEndpoint, capabilities and status override the template; "
        "every other key fills authConfig.fields.",
    )


class ExportRequest(Strict):
    providerIds: list[Text] | None = Field(default=None, max_length=10_000)
    includeModels: bool = True
    includeTemplates: bool = False
    includeSecrets: bool = Field(default=False, description="Secrets in clear, for a full admin backup.")


def _entries(value: Any) -> Any:
    # One scan, and at most one error, for the whole list: the import planner checks each entry field by field
    # (and stops listing after the error cap), so a file of 100,000 bad entries does not become 100,000 errors here.
    if not isinstance(value, list):
        return value
    objects = [isinstance(entry, dict) for entry in value]
    if not all(objects):
        count, first = objects.count(False), objects.index(False)
        raise PydanticCustomError(
            "dict_type",
            "every entry must be a JSON object; {count} are not, the first at index {first}",
            {"count": count, "first": first},
        )
    problem = plain_json_problem(value)
    if problem is not None:
        raise PydanticCustomError("unstorable_value", problem)
    return value


Entries = Annotated[list[dict[str, Any]], BeforeValidator(_entries)]


class ImportData(Strict):
    # Entries are checked field by field when the import is planned; until then they are free-form JSON.
    providers: Entries = Field(default_factory=list)
    models: Entries = Field(default_factory=list)
    templates: Entries = Field(default_factory=list)


class ImportPrecondition(Strict):
    """(ext) An entry's state that the import requires, checked inside the import's own transaction."""

    type: Literal["provider", "model", "template"]
    identifier: Text = Field(
        min_length=1, max_length=512, description="Provider identifier, providerIdentifier/modelIdentifier, or name."
    )
    ifMatch: Text = Field(min_length=1, max_length=128, description='The etag the entry must still have, or "absent".')


class ImportOptions(Strict):
    conflictResolution: Literal["merge", "replace", "skip"] = "merge"
    validateOnly: bool = False
    preconditions: list[ImportPrecondition] = Field(
        default_factory=list, description="(ext) Checked before anything is written; 412 lists every failed one."
    )


class ImportRequest(Strict):
    """An import body; an export document is one too (its ``metadata`` is ignored)."""

    data: ImportData
    options: ImportOptions = Field(default_factory=ImportOptions)
    metadata: dict[Text, JsonData] | None = None


# Fields that may be null in an update; a null anywhere else is refused rather than read as "unchanged".
NULLABLE_UPDATE_FIELDS = frozenset({"description", "pricingInfo"})
