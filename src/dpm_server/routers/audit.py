"""``/api/admin/audit-log``: the admin mutations, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dpm_server.http.deps import Context, get_admin
from dpm_server.routers import no_nul_in_parameters, ok
from dpm_server.schemas.responses import Pagination, Timestamp
from dpm_server.services import audit
from dpm_server.services.audit import Action, ResourceType

router = APIRouter(
    prefix="/api/admin", tags=["Audit"], dependencies=[Depends(get_admin), Depends(no_nul_in_parameters)]
)


class AuditEntryOut(BaseModel):
    id: str
    timestamp: Timestamp
    username: str = Field(description="The admin who made the change.")
    action: Action
    resourceType: ResourceType
    resourceId: str | None = None
    resourceIdentifier: str | None = Field(default=None, description="Provider or model identifier, or template name.")
    requestId: str | None = Field(default=None, description="The X-Request-ID of the request that made the change.")
    details: dict[str, Any] = Field(description="Counts and labels only; never a field value.")


class AuditPage(BaseModel):
    data: list[AuditEntryOut]
    pagination: Pagination


class AuditQuery(BaseModel):
    action: Action | None = None
    resourceType: ResourceType | None = None
    resourceId: str | None = Field(default=None, max_length=64)
    username: str | None = Field(default=None, max_length=100)
    page: int = Field(default=1, ge=1, le=1_000_000)
    limit: int = Field(default=20, ge=1, le=100)


@router.get("/audit-log", response_model=AuditPage)
def audit_log(context: Context, query: Annotated[AuditQuery, Query()]) -> JSONResponse:
    """Every committed admin mutation: who, what, when, the resource and the request id. Never a secret."""
    with context.db.read() as session:
        return ok(
            audit.list_entries(
                session,
                action=query.action,
                resource_type=query.resourceType,
                resource_id=query.resourceId,
                username=query.username,
                page=query.page,
                limit=query.limit,
            )
        )
