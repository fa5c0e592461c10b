"""Login, refresh and logout.

Refresh tokens rotate: each use marks the token rotated and issues a new one in the same family. Presenting a
rotated token again means it was copied, so the whole family is revoked, including the thief's fresh token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from dpm_server.auth.tokens import InvalidToken, TokenCodec
from dpm_server.db.tables import RefreshToken, User, utcnow


@dataclass(frozen=True)
class Issued:
    user: User
    token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class TokenPolicy:
    codec: TokenCodec
    access_ttl: int
    refresh_ttl: int


def issue(session: Session, *, policy: TokenPolicy, user: User, family: str | None = None) -> Issued:
    access = policy.codec.mint(user.id, "access", policy.access_ttl)
    refresh = policy.codec.mint(user.id, "refresh", policy.refresh_ttl, family=family or uuid.uuid4().hex)
    session.add(
        RefreshToken(
            jti=refresh.claims.jti,
            family_id=refresh.claims.family,
            user_id=user.id,
            expires_at=refresh.claims.expires_at,
        )
    )
    return Issued(user, access.token, refresh.token, policy.access_ttl)


def rotate(session: Session, *, policy: TokenPolicy, refresh_token: str) -> Issued | None:
    """A new pair for a valid refresh token; None when it is invalid or reused (a reuse revokes its family)."""
    try:
        claims = policy.codec.decode(refresh_token, "refresh")
    except InvalidToken:
        return None
    stored = session.get(RefreshToken, claims.jti)
    if stored is None or stored.revoked_at is not None:
        return None
    if stored.rotated_at is not None:
        revoke_family(session, family=stored.family_id)
        return None
    user = session.get(User, stored.user_id)
    if user is None:
        return None
    stored.rotated_at = utcnow()
    return issue(session, policy=policy, user=user, family=stored.family_id)


def revoke(session: Session, *, policy: TokenPolicy, refresh_token: str) -> bool:
    """Logout: revokes the token's family; False when the token is not a valid refresh token."""
    try:
        claims = policy.codec.decode(refresh_token, "refresh")
    except InvalidToken:
        return False
    stored = session.get(RefreshToken, claims.jti)
    if stored is None:
        return False
    revoke_family(session, family=stored.family_id)
    return True


def revoke_family(session: Session, *, family: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
