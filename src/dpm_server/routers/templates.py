"""``/api/admin/provider-templates``: template CRUD and template apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from dpm_server.http.deps import AdminUser, Audit, Context, IfMatch, get_admin
from dpm_server.routers import no_content, no_nul_in_parameters, ok
from dpm_server.schemas.requests import ApplyTemplateRequest, TemplateCreate, TemplateUpdate
from dpm_server.schemas.responses import ProviderOut, TemplateOut
from dpm_server.services import templates

router = APIRouter(
    prefix="/api/admin/provider-templates",
    tags=["Template Management"],
    dependencies=[Depends(get_admin), Depends(no_nul_in_parameters)],
)


@router.get("", response_model=list[TemplateOut])
def list_templates(context: Context, is_system: Annotated[bool | None, Query(alias="isSystem")] = None) -> JSONResponse:
    with context.db.read() as session:
        return ok(templates.list_templates(session, is_system=is_system))


@router.post("", status_code=201, response_model=TemplateOut)
def create_template(body: TemplateCreate, context: Context, user: AdminUser, audit: Audit) -> JSONResponse:
    with context.db.change() as session:
        view = templates.create_template(session, box=context.box, body=body, actor=user.username)
        audit.record(session, "create", "template", view["id"], identifier=view["name"])
        return ok(view, 201)


@router.get("/{id}", response_model=TemplateOut)
def get_template(id: str, context: Context) -> JSONResponse:
    with context.db.read() as session:
        return ok(templates.get_template(session, template_id=id))


@router.put("/{id}", response_model=TemplateOut)
def update_template(
    id: str, body: TemplateUpdate, context: Context, audit: Audit, if_match: IfMatch = None
) -> JSONResponse:
    """System templates cannot be modified."""
    with context.db.change() as session:
        audit.record(session, "update", "template", id)
        view = templates.update_template(session, box=context.box, template_id=id, body=body, if_match=if_match)
        return ok(view)


@router.delete("/{id}", status_code=204)
def delete_template(id: str, context: Context, audit: Audit, if_match: IfMatch = None) -> Response:
    """System templates cannot be deleted."""
    with context.db.change() as session:
        audit.record(session, "delete", "template", id)
        templates.delete_template(session, template_id=id, if_match=if_match)
    return no_content()


@router.post("/{id}/apply", status_code=201, response_model=ProviderOut)
def apply_template(
    id: str, body: ApplyTemplateRequest, context: Context, user: AdminUser, audit: Audit
) -> JSONResponse:
    """Creates a provider, with the template's default models, from the template and the customizations."""
    with context.db.change() as session:
        view = templates.apply(session, box=context.box, template_id=id, body=body, actor=user.username)
        applied = {"providerId": view["id"], "providerIdentifier": view["identifier"], "models": view["modelCount"]}
        audit.record(session, "apply", "template", id, details=applied)
        audit.record(session, "create", "provider", view["id"], identifier=view["identifier"], details={"template": id})
        return ok(view, 201)
