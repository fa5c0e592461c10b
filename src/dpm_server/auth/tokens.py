"""JWTs: HS256 only, with required ``exp``, ``sub``, ``jti`` and ``typ``; an access token is never a refresh token."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
_REQUIRED = ["exp", "sub", "jti", "typ", "iat"]


@dataclass(frozen=True)
class Claims:
    subject: str
    jti: str
    typ: TokenType
    expires_at: datetime
    family: str | None = None


@dataclass(frozen=True)
class Minted:
    claims: Claims
    token: str


class InvalidToken(Exception):
    """The token is malformed, forged, expired, or of the wrong type. Callers answer 401 without detail."""


def generate_signing_key() -> bytes:
    return secrets.token_urlsafe(48).encode()


class TokenCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def mint(self, subject: str, typ: TokenType, ttl: int, family: str | None = None) -> Minted:
        now = datetime.now(UTC)
        claims = Claims(subject, uuid.uuid4().hex, typ, now + timedelta(seconds=ttl), family)
        payload: dict[str, object] = {
            "sub": subject,
            "jti": claims.jti,
            "typ": typ,
            "iat": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        }
        if family:
            payload["fam"] = family
        return Minted(claims, jwt.encode(payload, self._key, algorithm=ALGORITHM))

    def decode(self, token: str, expected: TokenType) -> Claims:
        try:
            payload = jwt.decode(token, self._key, algorithms=[ALGORITHM], options={"require": _REQUIRED})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if payload.get("typ") != expected or not isinstance(payload.get("sub"), str):
            raise InvalidToken(f"expected a {expected} token")
        family = payload.get("fam")
        if expected == "refresh" and not isinstance(family, str):
            raise InvalidToken("refresh token without a family")
        expires = datetime.fromtimestamp(int(payload["exp"]), UTC)
        return Claims(payload["sub"], str(payload["jti"]), expected, expires, family)
