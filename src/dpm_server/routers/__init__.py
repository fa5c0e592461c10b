"""One router per resource. Handlers are thin: parse, open a transaction, call one service function."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response


def ok(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    # Views are already JSON-shaped; the declared response_model documents them (and the schema tests check it).
    return JSONResponse(content, status_code=status_code, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)
