"""``/api/auth``: login, refresh and logout."""

from __future__ import annotations

import functools

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dpm_server.auth import sessions, users
from dpm_server.auth.sessions import Issued
from dpm_server.context import AppContext
from dpm_server.db.tables import User
from dpm_server.errors import Unauthorized
from dpm_server.http.deps import Context
from dpm_server.logs import get_logger
from dpm_server.routers import no_content, ok
from dpm_server.schemas.requests import LoginRequest, RefreshRequest
from dpm_server.schemas.responses import LoginResponse

router = APIRouter(prefix="/api/auth", tags=["Authentication"])
log = get_logger("auth")


def _body(issued: Issued) -> JSONResponse:
    user = issued.user
    return ok(
        {
            "token": issued.token,
            "refreshToken": issued.refresh_token,
            "user": {"id": user.id, "username": user.username, "role": user.role},
            "expiresIn": issued.expires_in,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/login", response_model=LoginResponse, openapi_extra={"security": []})
async def login(body: LoginRequest, context: Context) -> JSONResponse:
    """Log in with a user name or email. Each attempt counts against a stricter per-address limit before its
    password is checked; a successful login gives its attempt back."""
    found = await context.password_checks.run(functools.partial(_authenticate, context, body))
    # Tokens are issued in the ordinary threadpool: waiting for the write lock must not hold a password-check thread.
    issued = await run_in_threadpool(_issue, context, found) if found is not None else None
    if issued is None:
        log.info("failed login for %r", body.username)
        raise Unauthorized("Invalid username or password")
    log.debug("login: %s", issued.user.username)
    return _body(issued)


def _authenticate(context: AppContext, body: LoginRequest) -> User | None:
    # The password is checked in a read transaction: a burst of logins never holds the write lock, which every
    # change of the registry queues on.
    with context.db.read() as session:
        return users.authenticate(session, login=body.username, password=body.password)


def _issue(context: AppContext, found: User) -> Issued | None:
    with context.db.write() as session:
        user = session.get(User, found.id)  # still there
        return sessions.issue(session, policy=context.tokens, user=user) if user else None


@router.post("/refresh", response_model=LoginResponse, openapi_extra={"security": []})
def refresh(body: RefreshRequest, context: Context) -> JSONResponse:
    """A new token pair; the refresh token rotates, and reusing an old one revokes its whole family."""
    with context.db.write() as session:
        issued = sessions.rotate(session, policy=context.tokens, refresh_token=body.refreshToken)
    if issued is None:
        raise Unauthorized("Invalid, expired or already used refresh token")
    return _body(issued)


@router.post("/logout", status_code=204, openapi_extra={"security": []})
def logout(body: RefreshRequest, context: Context) -> Response:
    """Revokes the refresh token's family. Access tokens stay valid until they expire."""
    with context.db.write() as session:
        revoked = sessions.revoke(session, policy=context.tokens, refresh_token=body.refreshToken)
    if not revoked:
        raise Unauthorized("Invalid refresh token")
    return no_content()
