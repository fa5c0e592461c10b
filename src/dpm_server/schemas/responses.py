"""Response bodies, as the OpenAPI document declares them. Resources come back bare, with no wrapper.

An optional field (``= None`` here) is left out when it has no value, never sent as ``null``; the served OpenAPI
declares it optional and non-nullable (``dpm_server.openapi``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from dpm.resources.models import (
    AuthMethod,
    ModelCapabilities,
    ModelStatus,
    PricingInfo,
    ProviderCapabilities,
    ProviderStatus,
)

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, description="ISO-8601 UTC, with Z.")]


class UserOut(BaseModel):
    id: str
    username: str
    role: Literal["admin", "user"]


class LoginResponse(BaseModel):
    token: str
    refreshToken: str
    user: UserOut
    expiresIn: int


class AuthConfigOut(BaseModel):
    type: AuthMethod
    fields: dict[str, Any] = Field(description='Sensitive values are always "[REDACTED]".')
    headers: dict[str, str]
    testEndpoint: str | None = None
    fieldFingerprints: dict[str, str] = Field(description="sha256:<salt>:<digest> per redacted field.")


class ConnectivityResult(BaseModel):
    success: bool
    responseTime: int
    availableModels: list[str] | None = None
    capabilities: dict[str, Any] | None = None
    actualCapabilities: dict[str, Any] | None = None
    errors: list[str]
    testedAt: Timestamp


class ProviderOut(BaseModel):
    id: str
    identifier: str
    name: str
    description: str | None = None
    apiEndpoint: str
    authMethod: AuthMethod
    authConfig: AuthConfigOut
    capabilities: ProviderCapabilities
    status: ProviderStatus
    isSystem: bool
    modelCount: int
    createdBy: str | None = None
    createdAt: Timestamp
    updatedAt: Timestamp
    lastTested: Timestamp | None = None
    testResult: ConnectivityResult | None = None
    etag: str


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    totalPages: int


class ProviderPage(BaseModel):
    data: list[ProviderOut]
    pagination: Pagination


class ModelOut(BaseModel):
    id: str
    providerId: str
    providerIdentifier: str
    identifier: str
    name: str
    description: str | None = None
    contextLength: int
    capabilities: ModelCapabilities
    pricingInfo: PricingInfo | None = None
    status: ModelStatus
    isDefault: bool
    createdAt: Timestamp
    updatedAt: Timestamp
    lastTested: Timestamp | None = None
    testResult: ConnectivityResult | None = None
    etag: str


class TemplateOut(BaseModel):
    id: str
    name: str
    description: str | None = None
    providerConfig: dict[str, Any]
    defaultModels: list[dict[str, Any]]
    isSystem: bool
    createdBy: str | None = None
    createdAt: Timestamp
    updatedAt: Timestamp
    etag: str


class ExportData(BaseModel):
    providers: list[ProviderOut]
    models: list[ModelOut]
    templates: list[TemplateOut]


class DataProblem(BaseModel):
    resourceType: Literal["provider", "model", "template", "resource"]
    id: str | None = None
    identifier: str | None = Field(default=None, description="Provider or model identifier, or template name.")
    field: str = Field(description="Dotted path inside the resource, e.g. pricingInfo.inputTokenPrice.")
    message: str


class ExportMetadata(BaseModel):
    exportedAt: Timestamp
    exportedBy: str
    version: str
    revision: int
    problems: list[DataProblem] | None = Field(
        default=None,
        description="Stored values that JSON cannot carry (non-finite numbers), left out of this export. "
        "Present only when there are some.",
    )


class ExportResult(BaseModel):
    data: ExportData
    metadata: ExportMetadata


class ImportSummary(BaseModel):
    providersImported: int
    modelsImported: int
    templatesImported: int
    conflicts: int
    errors: int


class ImportDetail(BaseModel):
    type: Literal["provider", "model", "template"]
    identifier: str
    action: Literal["created", "updated", "skipped", "error"]
    message: str


class ImportResult(BaseModel):
    success: bool
    summary: ImportSummary
    details: list[ImportDetail]


class RegistryPerformance(BaseModel):
    averageResponseTime: int
    successRate: float


class RegistryStatus(BaseModel):
    status: Literal["healthy", "degraded", "error"]
    providersLoaded: int
    modelsLoaded: int
    lastRefresh: Timestamp | None = None
    errors: list[str]
    performance: RegistryPerformance
    revision: int


class RegistryRefresh(BaseModel):
    message: str
    providersLoaded: int
    modelsLoaded: int
    refreshedAt: Timestamp


class ValidationErrorItem(BaseModel):
    field: str
    message: str
    value: Any = None
    suggestion: str | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    suggestions: list[str] | None = None
    validationErrors: list[ValidationErrorItem] | None = None
    details: dict[str, Any] | list[dict[str, Any]] | None = None  # a list: the failed import preconditions (ext)


class ErrorResponse(BaseModel):
    error: ErrorDetail
    timestamp: Timestamp
    requestId: str
