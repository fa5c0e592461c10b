"""Route dependencies as ``Annotated`` types: ``def route(db: Db, user: AdminUser) -> ...``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dpm_server.auth.sessions import current_user
from dpm_server.context import AppContext
from dpm_server.db.tables import User
from dpm_server.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="A JWT access token from POST /api/auth/login.")


async def get_context(request: Request) -> AppContext:
    # async: trivial dependencies stay on the event loop instead of taking a threadpool hop each.
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


def get_user(context: Context, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> User:
    if credentials is None:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>")
    with context.db.read() as session:
        user = current_user(session, codec=context.tokens.codec, token=credentials.credentials)
    if user is None:
        raise Unauthorized()
    return user


CurrentUser = Annotated[User, Depends(get_user)]


async def get_admin(user: CurrentUser) -> User:
    if user.role != "admin":
        raise Forbidden()
    return user


AdminUser = Annotated[User, Depends(get_admin)]
IfMatch = Annotated[str | None, Header(description="An etag from a previous read; 412 when it no longer matches.")]
