"""Validation failures as the guide reports them: pydantic errors and rule violations become ``FieldError``s.

Values are echoed only when they are short scalars outside any sensitive field, so an error body can never
carry a secret back to the client (or into a log).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from dpm.resources.models import MAX_INT, PATTERN_HELP
from dpm.resources.rules import Violation
from dpm.resources.secrets import REDACTED, is_sensitive_field
from dpm_server.errors import MAX_VALIDATION_ERRORS, ApiError, FieldError, InvalidInput, ValidationFailed

Path = Sequence[str | int]
M = TypeVar("M", bound=BaseModel)

# Fields a client may read but never write: sending one is mass assignment, and is refused by name.
READ_ONLY_FIELDS = frozenset(
    {"id", "isSystem", "createdAt", "updatedAt", "createdBy", "modelCount", "etag", "lastTested", "testResult"}
)
_FORMAT_ERRORS = frozenset({"string_pattern_mismatch", "string_too_short", "string_too_long"})


def dotted(path: Iterable[str | int]) -> str:
    return ".".join(str(part) for part in path)


def safe_value(path: Path, value: Any) -> Any:
    if any(isinstance(part, str) and is_sensitive_field(part) for part in path):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "…"
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no Infinity or NaN
    return value if isinstance(value, int | float | bool) or value is None else None


def from_violations(violations: Iterable[Violation], prefix: Path = ()) -> list[FieldError]:
    return [
        FieldError(dotted([*prefix, *v.path]), v.message, safe_value([*prefix, *v.path], v.value), v.suggestion)
        for v in violations
    ]


def from_pydantic(errors: Iterable[ErrorDetails], prefix: Path = ()) -> list[FieldError]:
    """Field errors; past ``MAX_VALIDATION_ERRORS`` only counted (one ``omitted`` entry), never converted."""
    found: list[FieldError] = []
    listed = extra = 0
    for error in errors:
        if error["type"] == "too_many_errors" or listed < MAX_VALIDATION_ERRORS:
            found.append(_field_error(error, prefix))
            listed += not found[-1].omitted
        else:
            extra += 1
    return found + ([FieldError(dotted(prefix), "more errors", omitted=extra)] if extra else [])


def _field_error(error: ErrorDetails, prefix: Path) -> FieldError:
    path = [*prefix, *error["loc"]]
    kind, name = error["type"], path[-1] if path else ""
    suggestion = None
    if kind == "too_many_errors":
        return FieldError(dotted(path), error["msg"], omitted=int((error.get("ctx") or {}).get("omitted", 0)))
    if kind == "rule_violation":
        hint = (error.get("ctx") or {}).get("suggestion")
        return FieldError(dotted(path), error["msg"], safe_value(path, error.get("input")), hint)
    if kind == "extra_forbidden" and name in READ_ONLY_FIELDS:
        message = f"'{name}' is set by the server and cannot be written"
    elif kind == "extra_forbidden" and name == "identifier":
        message, suggestion = "identifier cannot be changed after creation", "create a new resource instead"
    elif kind == "extra_forbidden":
        message = f"Unknown field '{name}'"
    elif kind == "missing":
        message = "Field is required"
    elif kind == "string_pattern_mismatch" and (ctx := error.get("ctx")) and ctx.get("pattern") in PATTERN_HELP:
        message, suggestion = PATTERN_HELP[ctx["pattern"]]
    else:
        message = error["msg"]
    value = None if kind in ("missing", "extra_forbidden", "json_invalid") else safe_value(path, error.get("input"))
    if kind == "extra_forbidden" and not isinstance(name, str):
        value = None
    return FieldError(dotted(path), message, value, suggestion)


def parse(model: type[M], data: Any, prefix: Path = ()) -> tuple[M | None, list[FieldError]]:
    """``data`` validated as ``model``, or the field errors under ``prefix``."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, from_pydantic(exc.errors(), prefix)


def with_violations(exc: ValidationError, violations: Iterable[Violation]) -> ValidationError:
    """``exc`` plus the business rules' violations, so that a body that fails its schema still hears about every
    rule it breaks in the same answer. A rule at a path the schema already reported adds nothing."""
    errors = exc.errors(include_url=False)
    reported = {tuple(error["loc"]) for error in errors}
    details: list[InitErrorDetails] = [
        InitErrorDetails(
            type=PydanticCustomError(error["type"], error["msg"], error.get("ctx")),
            loc=tuple(error["loc"]),
            input=error.get("input"),
        )
        for error in errors
    ]
    for v in violations:
        if tuple(v.path) not in reported:
            rule = PydanticCustomError(
                "rule_violation", v.message, {"suggestion": v.suggestion} if v.suggestion else None
            )
            details.append(InitErrorDetails(type=rule, loc=tuple(v.path), input=v.value))
    return ValidationError.from_exception_data(exc.title, details)


def request_error(errors: Sequence[ErrorDetails]) -> ApiError:
    """FastAPI's request validation errors, split into 400 and 422 as CONTRACT.md says."""
    if any(e["type"] == "json_invalid" for e in errors):
        return InvalidInput("Request body is not valid JSON", suggestions=["Send a JSON object"])
    first = errors[0]
    where, *path = first["loc"]
    if where in ("query", "path", "header"):
        return InvalidInput(f"Invalid {where} parameter '{dotted(path)}': {first['msg']}", field=dotted(path))
    if not path:
        missing = first["type"] == "missing"
        return InvalidInput("Request body is required" if missing else "Request body must be a JSON object")
    body_errors = [{**e, "loc": tuple(e["loc"][1:])} for e in errors]
    fields = from_pydantic(body_errors)  # type: ignore[arg-type]
    if len(errors) == 1 and first["type"] in _FORMAT_ERRORS:
        only = fields[0]
        return InvalidInput(only.message, field=only.field, suggestions=[only.suggestion] if only.suggestion else [])
    return ValidationFailed(fields)


def int_bound_violations(values: dict[str, Any], prefix: Path = ()) -> list[FieldError]:
    """Integers stored in columns must fit a 32-bit INTEGER on every database."""
    return [
        FieldError(dotted([*prefix, key]), f"{key} must be at most {MAX_INT}", value)
        for key, value in values.items()
        if isinstance(value, int) and value > MAX_INT
    ]
