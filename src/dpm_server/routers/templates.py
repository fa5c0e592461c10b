"""``/api/admin/provider-templates``: template CRUD and template apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from dpm_server.http.deps import AdminUser, Context, IfMatch, get_admin
from dpm_server.routers import no_content, ok
from dpm_server.schemas.requests import ApplyTemplateRequest, TemplateCreate, TemplateUpdate
from dpm_server.schemas.responses import ProviderOut, TemplateOut
from dpm_server.services import templates

router = APIRouter(
    prefix="/api/admin/provider-templates", tags=["Template Management"], dependencies=[Depends(get_admin)]
)


@router.get("", response_model=list[TemplateOut])
def list_templates(context: Context, is_system: Annotated[bool | None, Query(alias="isSystem")] = None) -> JSONResponse:
    with context.db.read() as session:
        return ok(templates.list_templates(session, is_system=is_system))


@router.post("", status_code=201, response_model=TemplateOut)
def create_template(body: TemplateCreate, context: Context, user: AdminUser) -> JSONResponse:
    with context.db.change() as session:
        view = templates.create_template(session, box=context.box, body=body, actor=user.username)
    return ok(view, 201)


@router.get("/{id}", response_model=TemplateOut)
def get_template(id: str, context: Context) -> JSONResponse:
    with context.db.read() as session:
        return ok(templates.get_template(session, template_id=id))


@router.put("/{id}", response_model=TemplateOut)
def update_template(id: str, body: TemplateUpdate, context: Context, if_match: IfMatch = None) -> JSONResponse:
    """System templates cannot be modified."""
    with context.db.change() as session:
        view = templates.update_template(session, box=context.box, template_id=id, body=body, if_match=if_match)
    return ok(view)


@router.delete("/{id}", status_code=204)
def delete_template(id: str, context: Context, if_match: IfMatch = None) -> Response:
    """System templates cannot be deleted."""
    with context.db.change() as session:
        templates.delete_template(session, template_id=id, if_match=if_match)
    return no_content()


@router.post("/{id}/apply", status_code=201, response_model=ProviderOut)
def apply_template(id: str, body: ApplyTemplateRequest, context: Context, user: AdminUser) -> JSONResponse:
    """Creates a provider, with the template's default models, from the template and the customizations."""
    with context.db.change() as session:
        view = templates.apply(session, box=context.box, template_id=id, body=body, actor=user.username)
    return ok(view, 201)
