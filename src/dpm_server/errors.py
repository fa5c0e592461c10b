"""The error tree and the guide's error envelope.

Every failure a client can see is an :class:`ApiError`; one handler (``http/handlers.py``) turns it into
``{"error": {...}, "timestamp", "requestId"}``. Subclasses fix the status and code, so a service raises
``NotFound.of("Provider", id)`` and never thinks about HTTP.

    ApiError
    ├── InvalidInput (400)          ├── AlreadyExists (409)     ├── PayloadTooLarge (413)
    ├── SystemResource (400)        ├── Conflict (409)          ├── UnsupportedMediaType (415)
    ├── Unauthorized (401)          ├── PreconditionFailed (412)├── ValidationFailed (422)
    ├── Forbidden (403)             ├── MethodNotAllowed (405)  ├── RateLimited (429)
    └── NotFound (404)                                          └── InternalError (500)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

MAX_VALIDATION_ERRORS = 100
"""An answer lists at most this many ``validationErrors``; ``details.omittedErrors`` counts the rest."""


@dataclass(frozen=True)
class FieldError:
    """One entry of ``validationErrors``: a dotted path, a message and the offending (already masked) value.

    ``omitted`` > 0 marks a count of errors that were never listed (an object with too many unknown keys): it is
    added to ``details.omittedErrors`` instead of being listed itself."""

    field: str
    message: str
    value: Any = None
    suggestion: str | None = None
    omitted: int = 0

    def to_json(self) -> dict[str, Any]:
        body = {"field": self.field, "message": self.message, "value": self.value}
        if self.suggestion:
            body["suggestion"] = self.suggestion
        return body


class ApiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        suggestions: Sequence[str] = (),
        validation_errors: Sequence[FieldError] = (),
        details: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.suggestions = list(suggestions)
        self.validation_errors = list(validation_errors)
        self.details: dict[str, Any] | list[dict[str, Any]] | None = None
        if isinstance(details, Mapping):
            self.details = dict(details) or None
        elif details:
            self.details = [dict(entry) for entry in details]
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.suggestions:
            error["suggestions"] = self.suggestions
        if self.validation_errors:
            error["validationErrors"] = [e.to_json() for e in self.validation_errors]
        if self.details:
            error["details"] = self.details
        return error


class InvalidInput(ApiError):
    status, code = 400, "INVALID_INPUT"


class SystemResource(ApiError):
    status, code = 400, "SYSTEM_RESOURCE"


class Unauthorized(ApiError):
    status, code = 401, "UNAUTHORIZED"

    def __init__(self, message: str = "Invalid or expired JWT token") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status, code = 403, "INSUFFICIENT_PERMISSIONS"

    def __init__(self, message: str = "Admin role required for provider management") -> None:
        super().__init__(message)


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"

    @classmethod
    def of(cls, kind: str, ident: str) -> NotFound:
        return cls(f"{kind} '{ident}' not found", details={"resource": kind.lower(), "id": ident})


class MethodNotAllowed(ApiError):
    status, code = 405, "METHOD_NOT_ALLOWED"


class AlreadyExists(ApiError):
    status, code = 409, "ALREADY_EXISTS"


class Conflict(ApiError):
    status, code = 409, "CONFLICT"


class PreconditionFailed(ApiError):
    status, code = 412, "PRECONDITION_FAILED"


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class ValidationFailed(ApiError):
    status, code = 422, "VALIDATION_ERROR"

    def __init__(self, errors: Sequence[FieldError], *, unchecked: int = 0) -> None:
        """``unchecked``: entries (of an import) left unchecked once the errors already filled the answer."""
        listed = [e for e in errors if not e.omitted]
        omitted = sum(e.omitted for e in errors) + max(0, len(listed) - MAX_VALIDATION_ERRORS)
        details: dict[str, Any] = {}
        if omitted or unchecked:
            details = {"omittedErrors": omitted, "maxErrors": MAX_VALIDATION_ERRORS}
        if unchecked:
            details["uncheckedEntries"] = unchecked
        super().__init__("Validation failed", validation_errors=listed[:MAX_VALIDATION_ERRORS], details=details)


class RateLimited(ApiError):
    status, code = 429, "RATE_LIMIT_EXCEEDED"


class InternalError(ApiError):
    status, code = 500, "INTERNAL_ERROR"

    def __init__(self) -> None:
        super().__init__("An unexpected error occurred; quote the requestId when reporting it")
