"""``/healthz``, ``/readyz`` and ``/metrics``: for probes and scrapers, outside ``/api``, the rate limit and the
admin login, and left out of the API document."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dpm_server.errors import Unauthorized
from dpm_server.http.deps import Context
from dpm_server.services import operations

router = APIRouter(include_in_schema=False)
metrics_router = APIRouter(include_in_schema=False)
_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """The process is up and serving; asks nothing of the database, so a slow database never restarts it."""
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


@router.get("/readyz")
def readyz(context: Context) -> JSONResponse:
    """200 when the database answers and its schema is at this server's migrations; 503 with the reason."""
    reason = context.readiness.unready_reason()
    if reason is None:
        return JSONResponse({"status": "ready"}, headers=_NO_STORE)
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503, headers=_NO_STORE)


@metrics_router.get("/metrics")
async def metrics(context: Context, authorization: Annotated[str | None, Header()] = None) -> Response:
    """The Prometheus text format; with DPM_SERVER_METRICS_TOKEN set, only for ``Authorization: Bearer <it>``."""
    token = context.settings.metrics_token
    if token is not None:
        expected = f"Bearer {token.get_secret_value()}".encode()
        if not hmac.compare_digest((authorization or "").encode(), expected):
            raise Unauthorized("GET /metrics needs Authorization: Bearer <DPM_SERVER_METRICS_TOKEN>")
    assert context.metrics is not None  # the route exists only when metrics are on
    revision = await run_in_threadpool(operations.revision, context.db)
    return Response(context.metrics.render(revision), media_type=context.metrics.content_type)
