"""Route dependencies as ``Annotated`` types: ``def route(db: Db, user: AdminUser) -> ...``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from dpm_server.auth.principals import Principal
from dpm_server.auth.tokens import InvalidToken
from dpm_server.context import AppContext
from dpm_server.errors import Forbidden, Unauthorized
from dpm_server.services.audit import Auditor

_bearer = HTTPBearer(auto_error=False, description="A JWT access token from POST /api/auth/login.")


async def get_context(request: Request) -> AppContext:
    # async: trivial dependencies stay on the event loop instead of taking a threadpool hop each.
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


async def get_user(
    context: Context, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>")
    try:
        claims = context.tokens.codec.decode(credentials.credentials, "access")
    except InvalidToken:
        raise Unauthorized() from None
    known, principal = context.principals.cached(claims.subject)
    if not known:
        principal = await run_in_threadpool(context.principals.load, claims.subject)
    if principal is None:
        raise Unauthorized()
    return principal


CurrentUser = Annotated[Principal, Depends(get_user)]


async def get_admin(user: CurrentUser) -> Principal:
    if user.role != "admin":
        raise Forbidden()
    return user


AdminUser = Annotated[Principal, Depends(get_admin)]


async def get_auditor(request: Request, user: AdminUser) -> Auditor:
    return Auditor(user.username, getattr(request.state, "request_id", None))


Audit = Annotated[Auditor, Depends(get_auditor)]
IfMatch = Annotated[str | None, Header(description="An etag from a previous read; 412 when it no longer matches.")]
