"""``/api/admin/providers/registry-status`` and ``/refresh-registry``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from dpm_server.http.deps import Audit, Context, get_admin
from dpm_server.routers import no_nul_in_parameters, ok
from dpm_server.schemas.responses import RegistryRefresh, RegistryStatus
from dpm_server.services import registry

router = APIRouter(
    prefix="/api/admin/providers",
    tags=["Registry Management"],
    dependencies=[Depends(get_admin), Depends(no_nul_in_parameters)],
)


@router.post("/refresh-registry", response_model=RegistryRefresh)
def refresh_registry(context: Context, audit: Audit) -> JSONResponse:
    """Reloads the in-memory view now. Recorded in the audit log; the revision does not move."""
    with context.db.write() as session:
        result = registry.refresh(session, registry=context.registry)
        audit.record(session, "refresh", "registry", details={"providersLoaded": result["providersLoaded"]})
        return ok(result)


@router.get("/registry-status", response_model=RegistryStatus)
def registry_status(context: Context) -> JSONResponse:
    with context.db.read() as session:
        return ok(registry.status(session, registry=context.registry))
