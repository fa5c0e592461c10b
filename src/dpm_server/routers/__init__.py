"""One router per resource. Handlers are thin: parse, open a transaction, call one service function.

A handler that writes builds its response inside the transaction, so that an answer which cannot be rendered
rolls the change back instead of committing it behind a 500. ``ok`` renders what it can: a stored non-finite
number (which the write paths refuse, so only an older version or a hand edit leaves one) is left out and reported,
and any other failure to render raises, inside the transaction.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from dpm_server import fastjson
from dpm_server.errors import InvalidInput
from dpm_server.logs import get_logger
from dpm_server.views import omit_non_finite

PROBLEMS_HEADER = "X-DPM-Data-Problems"
log = get_logger("http")


def ok(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None, *, problems_in_metadata: bool = False
) -> JSONResponse:
    """``content`` as JSON. Views are already JSON-shaped; the declared response_model documents them (and the
    schema tests check it).

    A stored number that JSON cannot carry (infinity or NaN, left by an older version or written into the
    database by hand) must not take a whole list or export down: its key is left out, ``X-DPM-Data-Problems``
    counts the values left out, each is logged with its resource, and an export lists them in
    ``metadata.problems`` (``problems_in_metadata``)."""
    try:
        return JSONResponse(content, status_code=status_code, headers=headers)
    except ValueError:
        clean, problems = omit_non_finite(content)
        if not problems:
            raise
    for problem in problems:
        log.warning(
            "%s %s: stored %s is not a finite number; left out of the answer",
            problem.resource_type,
            problem.id,
            problem.field,
        )
    if problems_in_metadata and isinstance(clean, dict) and isinstance(clean.get("metadata"), dict):
        clean["metadata"]["problems"] = [problem.to_json() for problem in problems]
    headers = {**(headers or {}), PROBLEMS_HEADER: str(len(problems))}
    return JSONResponse(clean, status_code=status_code, headers=headers)


def ok_raw(content: Any, headers: dict[str, str] | None = None) -> Response:
    """``content`` that embeds stored JSON text (``fastjson.Fragment``), which only ``fastjson`` can write. The
    caller has checked every value for what ``ok`` would have to leave out; any other failure raises, inside the
    transaction, as in ``ok``."""
    return Response(fastjson.dumps(content), headers=headers, media_type="application/json")


async def no_nul_in_parameters(request: Request) -> None:
    """400 for a NUL character in a path or query parameter: no id, slug or filter holds one, and PostgreSQL
    could not even compare it (the query would fail instead of finding nothing)."""
    for where, values in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        for name, value in values:
            if "\x00" in str(name) or "\x00" in str(value):
                raise InvalidInput(f"Invalid {where} parameter '{name}': may not contain a NUL character", field=name)


def no_content() -> Response:
    return Response(status_code=204)
