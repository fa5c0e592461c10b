"""``/api/admin/providers``: provider CRUD and the provider connectivity test."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from dpm.resources.models import ProviderStatus
from dpm_server.http.deps import AdminUser, Audit, Context, IfMatch, get_admin
from dpm_server.routers import no_content, no_nul_in_parameters, ok
from dpm_server.schemas.requests import ProviderCreate, ProviderUpdate
from dpm_server.schemas.responses import ConnectivityResult, ProviderOut, ProviderPage
from dpm_server.services import connectivity, providers

router = APIRouter(
    prefix="/api/admin/providers",
    tags=["Provider Management"],
    dependencies=[Depends(get_admin), Depends(no_nul_in_parameters)],
)


class ProviderQuery(BaseModel):
    status: ProviderStatus | None = None
    isSystem: bool | None = None
    search: str | None = Field(default=None, max_length=255, description="Matches name or description.")
    page: int = Field(default=1, ge=1, le=1_000_000)
    limit: int = Field(default=20, ge=1, le=100)


@router.get("", response_model=ProviderPage)
def list_providers(context: Context, query: Annotated[ProviderQuery, Query()]) -> JSONResponse:
    with context.db.read() as session:
        return ok(
            providers.list_providers(
                session,
                status=query.status,
                is_system=query.isSystem,
                search=query.search,
                page=query.page,
                limit=query.limit,
            )
        )


@router.post("", status_code=201, response_model=ProviderOut)
def create_provider(body: ProviderCreate, context: Context, user: AdminUser, audit: Audit) -> JSONResponse:
    with context.db.change() as session:
        view = providers.create_provider(session, box=context.box, body=body, actor=user.username)
        audit.record(session, "create", "provider", view["id"], identifier=view["identifier"])
        return ok(view, 201)


@router.get("/{id}", response_model=ProviderOut)
def get_provider(id: str, context: Context) -> JSONResponse:
    with context.db.read() as session:
        return ok(providers.get_provider(session, provider_id=id))


@router.put("/{id}", response_model=ProviderOut)
def update_provider(
    id: str, body: ProviderUpdate, context: Context, audit: Audit, if_match: IfMatch = None
) -> JSONResponse:
    """A partial update. Sent nested objects replace the stored ones whole, except secrets sent as
    "[REDACTED]" or left out, which keep their stored values."""
    with context.db.change() as session:
        audit.record(session, "update", "provider", id)
        view = providers.update_provider(session, box=context.box, provider_id=id, body=body, if_match=if_match)
        return ok(view)


@router.delete("/{id}", status_code=204)
def delete_provider(id: str, context: Context, audit: Audit, if_match: IfMatch = None) -> Response:
    """Refused for system providers, and with 409 CONFLICT while the provider still has models."""
    with context.db.change() as session:
        audit.record(session, "delete", "provider", id)
        providers.delete_provider(session, provider_id=id, if_match=if_match)
    return no_content()


@router.post("/{id}/test", response_model=ConnectivityResult)
async def test_provider(id: str, context: Context) -> JSONResponse:
    """Connectivity test: lists the provider's models (or calls authConfig.testEndpoint) through the outbound guard.
    Answers 200 with success=false and the reasons when the test fails; 429 while the test pool is busy."""
    return ok(await connectivity.pooled_provider_test(context, provider_id=id))
