"""Models: ``/api/admin/providers/{providerId}/models`` and ``/api/admin/models/{id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from dpm.resources.models import ModelStatus
from dpm_server.http.deps import Audit, Context, IfMatch, get_admin
from dpm_server.routers import no_content, no_nul_in_parameters, ok
from dpm_server.schemas.requests import ModelCreate, ModelUpdate
from dpm_server.schemas.responses import ConnectivityResult, ModelOut
from dpm_server.services import connectivity, models

router = APIRouter(
    prefix="/api/admin", tags=["Model Management"], dependencies=[Depends(get_admin), Depends(no_nul_in_parameters)]
)


@router.get("/providers/{providerId}/models", response_model=list[ModelOut])
def list_models(
    providerId: str,
    context: Context,
    status: Annotated[ModelStatus | None, Query()] = None,
) -> JSONResponse:
    with context.db.read() as session:
        return ok(models.list_models(session, provider_id=providerId, status=status))


@router.post("/providers/{providerId}/models", status_code=201, response_model=ModelOut)
def create_model(providerId: str, body: ModelCreate, context: Context, audit: Audit) -> JSONResponse:
    """Adds a model; its contextLength may not exceed the provider's maxContextLength."""
    with context.db.change() as session:
        view = models.create_model(session, provider_id=providerId, body=body)
        audit.record(session, "create", "model", view["id"])
        return ok(view, 201)


@router.get("/models/{id}", response_model=ModelOut)
def get_model(id: str, context: Context) -> JSONResponse:
    with context.db.read() as session:
        return ok(models.get_model(session, model_id=id))


@router.put("/models/{id}", response_model=ModelOut)
def update_model(id: str, body: ModelUpdate, context: Context, audit: Audit, if_match: IfMatch = None) -> JSONResponse:
    with context.db.change() as session:
        audit.record(session, "update", "model", id)
        view = models.update_model(session, model_id=id, body=body, if_match=if_match)
        return ok(view)


@router.delete("/models/{id}", status_code=204)
def delete_model(id: str, context: Context, audit: Audit, if_match: IfMatch = None) -> Response:
    with context.db.change() as session:
        audit.record(session, "delete", "model", id)
        models.delete_model(session, model_id=id, if_match=if_match)
    return no_content()


@router.post("/models/{id}/test", response_model=ConnectivityResult)
async def test_model(id: str, context: Context) -> JSONResponse:
    """Model availability test: a one-token request to the provider, through the outbound guard. Answers 200 with
    success=false and the reasons when the test fails; 429 while the test pool is busy."""
    return ok(await connectivity.pooled_model_test(context, model_id=id))
