"""The served OpenAPI document: FastAPI's, plus the truth about errors and headers, and links.

Every operation declares the error responses it can give, all in the guide's envelope, and every response
declares the rate-limit headers and ``X-Request-ID``, so that generated clients and fuzzers see what the server
really sends. Responses that create or return a resource link to the operations on it (OpenAPI ``links``): its
``id`` feeds their path parameter and its ``etag`` their ``If-Match``.

An optional property is declared non-nullable: the server leaves a field out when it has no value and never sends
``null`` (CONTRACT.md). The one place where ``null`` means something is an update body, where it clears
``description`` or ``pricingInfo``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dpm_server.schemas.requests import NULLABLE_UPDATE_FIELDS
from dpm_server.schemas.responses import ErrorResponse

_ERRORS = {
    "400": "Invalid input: the body is not a JSON object, a parameter or one field has the wrong format, "
    "or a system resource cannot be changed",
    "401": "Missing, invalid or expired token",
    "403": "Admin role required",
    "404": "No such resource",
    "409": "Already exists, or conflicts with the current state",
    "412": "If-Match does not match the current etag, or an import precondition failed",
    "413": "Request body too large",
    "415": "Request bodies must be application/json",
    "422": "Validation failed; validationErrors lists every failure",
    "429": "Rate limit exceeded",
    "500": "Unexpected error (no detail is ever disclosed)",
}
_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed per window",
        "schema": {"type": "string", "pattern": r"^\d+$"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in this window",
        "schema": {"type": "string", "pattern": r"^\d+$"},
    },
    "X-RateLimit-Reset": {
        "description": "When the window resets (ISO-8601 UTC)",
        "schema": {"type": "string", "format": "date-time"},
    },
    "X-Request-ID": {"description": "The request id, also in error bodies", "schema": {"type": "string"}},
}
_RETRY_AFTER = {"description": "Seconds to wait", "schema": {"type": "string", "pattern": r"^\d+$"}}

_PROVIDER = "/api/admin/providers/{id}"
_PROVIDER_MODELS = "/api/admin/providers/{providerId}/models"
_MODEL = "/api/admin/models/{id}"
_TEMPLATE = "/api/admin/provider-templates/{id}"
# The operations a resource's id leads to: (link name, method, path, path parameter, sends its etag as If-Match).
_ON_PROVIDER = [
    ("GetProvider", "get", _PROVIDER, "id", False),
    ("UpdateProvider", "put", _PROVIDER, "id", True),
    ("DeleteProvider", "delete", _PROVIDER, "id", True),
    ("TestProvider", "post", f"{_PROVIDER}/test", "id", False),
    ("ListModels", "get", _PROVIDER_MODELS, "providerId", False),
    ("CreateModel", "post", _PROVIDER_MODELS, "providerId", False),
]
_ON_MODEL = [
    ("GetModel", "get", _MODEL, "id", False),
    ("UpdateModel", "put", _MODEL, "id", True),
    ("DeleteModel", "delete", _MODEL, "id", True),
    ("TestModel", "post", f"{_MODEL}/test", "id", False),
]
_ON_TEMPLATE = [
    ("GetTemplate", "get", _TEMPLATE, "id", False),
    ("UpdateTemplate", "put", _TEMPLATE, "id", True),
    ("DeleteTemplate", "delete", _TEMPLATE, "id", True),
    ("ApplyTemplate", "post", f"{_TEMPLATE}/apply", "id", False),
]
# (method, path, status, where the resource is in the body, the operations it links to): a response that creates
# or returns a resource, or lists them (the first one).
_LINKS = [
    ("post", "/api/admin/providers", "201", "", _ON_PROVIDER),
    ("get", "/api/admin/providers", "200", "/items/0", _ON_PROVIDER),
    ("get", _PROVIDER, "200", "", _ON_PROVIDER),
    ("put", _PROVIDER, "200", "", _ON_PROVIDER),
    ("post", f"{_TEMPLATE}/apply", "201", "", _ON_PROVIDER),
    ("post", _PROVIDER_MODELS, "201", "", _ON_MODEL),
    ("get", _PROVIDER_MODELS, "200", "/0", _ON_MODEL),
    ("get", _MODEL, "200", "", _ON_MODEL),
    ("put", _MODEL, "200", "", _ON_MODEL),
    ("post", "/api/admin/provider-templates", "201", "", _ON_TEMPLATE),
    ("get", "/api/admin/provider-templates", "200", "/0", _ON_TEMPLATE),
    ("get", _TEMPLATE, "200", "", _ON_TEMPLATE),
    ("put", _TEMPLATE, "200", "", _ON_TEMPLATE),
]


def _codes(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = {"429", "500"}
    params = {p.get("in") for p in operation.get("parameters", [])}
    if path.startswith("/api/admin"):
        codes |= {"400", "401", "403"}
    if path.startswith("/api/auth"):
        codes |= {"401"}
    if "requestBody" in operation:
        codes |= {"400", "413", "415", "422"}
    if "query" in params or "header" in params:
        codes |= {"400"}
    if "path" in params:
        codes |= {"404"}
    if method in ("post", "put", "delete") and path.startswith("/api/admin"):
        codes |= {"409"}
    if method in ("put", "delete") or path == "/api/admin/providers/import":
        codes |= {"412"}
    return sorted(codes)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorResponse"] = error_schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _optional_not_null(schemas)
    components["headers"] = _HEADERS
    header_refs = {name: {"$ref": f"#/components/headers/{name}"} for name in _HEADERS}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for code in _codes(path, method, operation):
                responses[code] = {
                    "description": _ERRORS[code],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                }
            for code, response in responses.items():
                response["headers"] = dict(header_refs) | ({"Retry-After": _RETRY_AFTER} if code == "429" else {})
    _add_links(schema["paths"])
    app.openapi_schema = schema
    return schema


def _optional_not_null(schemas: dict[str, Any]) -> None:
    null = {"type": "null"}
    for name, schema in schemas.items():
        required = set(schema.get("required", ()))
        for prop, sub in schema.get("properties", {}).items():
            if prop in required or (name.endswith("Update") and prop in NULLABLE_UPDATE_FIELDS):
                continue
            variants = sub.get("anyOf")
            if variants and null in variants:
                rest = [v for v in sub.pop("anyOf") if v != null]
                if len(rest) == 1:
                    sub.update(rest[0])
                else:
                    sub["anyOf"] = rest
            if "default" in sub and sub["default"] is None:
                del sub["default"]


def _add_links(paths: dict[str, Any]) -> None:
    for method, path, status, pointer, targets in _LINKS:
        links = paths[path][method]["responses"][status].setdefault("links", {})
        for name, target_method, target_path, parameter, if_match in targets:
            parameters = {f"path.{parameter}": f"$response.body#{pointer}/id"}
            if if_match:
                parameters["header.if-match"] = f"$response.body#{pointer}/etag"
            links[name] = {"operationId": paths[target_path][target_method]["operationId"], "parameters": parameters}
