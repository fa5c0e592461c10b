"""``/api/admin/providers/export`` and ``/import``: the whole registry in one request each way."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse, Response

from dpm_server.http.deps import Audit, Context, get_admin
from dpm_server.logs import get_logger
from dpm_server.routers import no_nul_in_parameters, ok, ok_raw
from dpm_server.schemas.requests import ExportRequest, ImportRequest
from dpm_server.schemas.responses import ExportResult, ImportResult
from dpm_server.services import exporting, importing

router = APIRouter(
    prefix="/api/admin/providers",
    tags=["Import/Export"],
    dependencies=[Depends(get_admin), Depends(no_nul_in_parameters)],
)
log = get_logger("audit")


@router.post("/export", response_model=ExportResult)
def export(context: Context, audit: Audit, body: Annotated[ExportRequest | None, Body()] = None) -> Response:
    """Secrets are redacted with fingerprints, unless includeSecrets asks for a full backup: admins only,
    recorded in the audit log, and sent with Cache-Control: no-store."""
    body = body or ExportRequest()
    if not body.includeSecrets:
        with context.db.read() as session:
            return _render(exporting.export(session, box=context.box, body=body, actor=audit.username))
    # The audit entry commits together with the read it describes; not a registry change, so no new revision.
    with context.db.write() as session:
        exported = exporting.export(session, box=context.box, body=body, actor=audit.username)
        data = exported.document["data"]
        details = {"providers": len(data["providers"]), "templates": len(data["templates"])}
        audit.record(session, "export", "registry", details={"includeSecrets": True, **details})
        response = _render(exported, headers={"Cache-Control": "no-store"})
    log.warning("export with secrets in clear by %s [%s]", audit.username, audit.request_id)
    return response


def _render(exported: exporting.Exported, headers: dict[str, str] | None = None) -> Response:
    if exported.raw:
        return ok_raw(exported.document, headers)
    return ok(exported.document, headers=headers, problems_in_metadata=True)


@router.post("/import", response_model=ImportResult)
def import_(body: ImportRequest, context: Context, audit: Audit) -> JSONResponse:
    """All or nothing, in one transaction. An export document is itself a valid import body."""
    # A dry run writes nothing, so it moves neither the registry revision nor the audit log.
    if body.options.validateOnly:
        with context.db.write() as session:
            return ok(importing.import_(session, box=context.box, request=body, actor=audit.username))
    with context.db.change() as session:
        result = importing.import_(session, box=context.box, request=body, actor=audit.username, auditor=audit)
        return ok(result)
