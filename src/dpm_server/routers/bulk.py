"""``/api/admin/providers/export`` and ``/import``: the whole registry in one request each way."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from dpm_server.http.deps import AdminUser, Context, get_admin
from dpm_server.logs import get_logger
from dpm_server.routers import ok
from dpm_server.schemas.requests import ExportRequest, ImportRequest
from dpm_server.schemas.responses import ExportResult, ImportResult
from dpm_server.services import exporting, importing

router = APIRouter(prefix="/api/admin/providers", tags=["Import/Export"], dependencies=[Depends(get_admin)])
audit = get_logger("audit")


@router.post("/export", response_model=ExportResult)
def export(context: Context, user: AdminUser, body: Annotated[ExportRequest | None, Body()] = None) -> JSONResponse:
    """Secrets are redacted with fingerprints, unless includeSecrets asks for a full (audited) backup."""
    body = body or ExportRequest()
    with context.db.read() as session:
        document = exporting.export(session, box=context.box, body=body, actor=user.username)
    if body.includeSecrets:
        audit.warning("export with secrets in clear by %s", user.username)
        return ok(document, headers={"Cache-Control": "no-store"})
    return ok(document)


@router.post("/import", response_model=ImportResult)
def import_(body: ImportRequest, context: Context, user: AdminUser) -> JSONResponse:
    """All or nothing, in one transaction. An export document is itself a valid import body."""
    # A dry run writes nothing, so it must not move the registry revision either.
    transaction = context.db.write if body.options.validateOnly else context.db.change
    with transaction() as session:
        result = importing.import_(session, box=context.box, request=body, actor=user.username)
    return ok(result)
