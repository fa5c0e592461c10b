"""JWTs: HS256 only, with required ``exp``, ``sub``, ``jti`` and ``typ``; an access token is never a refresh token.

A token's claims are checked here rather than by the JWT library's time checks, with exact types: times are
integers between 0 and the end of year 9999 (a larger or non-integer ``exp`` would overflow the date conversion or
mean nothing), and ids are short strings of the characters ids are made of. Whatever a token holds, decoding it
either yields claims or raises ``InvalidToken``.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
_REQUIRED = ["exp", "sub", "jti", "typ", "iat"]
_LAST_MOMENT = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime can hold
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NO_TIME_CHECKS = {"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": _REQUIRED}


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
            payload = jwt.decode(token, self._key, algorithms=[ALGORITHM], options=_NO_TIME_CHECKS)  # type: ignore[arg-type]
        except Exception as exc:  # anything a forged or mangled token makes the library raise
            raise InvalidToken(type(exc).__name__) from None
        return _claims(payload, expected, int(time.time()))


def _claims(payload: dict[str, Any], expected: TokenType, now: int) -> Claims:
    if payload.get("typ") != expected:
        raise InvalidToken(f"expected a {expected} token")
    expires = _moment(payload, "exp")
    issued = _moment(payload, "iat")
    not_before = _moment(payload, "nbf") if "nbf" in payload else issued
    if expires is None or expires <= now:
        raise InvalidToken("expired")
    if issued is None or not_before is None or max(issued, not_before) > now:
        raise InvalidToken("not yet valid")
    subject, jti, family = (_id(payload.get(name)) for name in ("sub", "jti", "fam"))
    if subject is None or jti is None:
        raise InvalidToken("malformed sub or jti")
    if expected == "refresh" and family is None:
        raise InvalidToken("refresh token without a family")
    return Claims(subject, jti, expected, datetime.fromtimestamp(expires, UTC), family)


def _moment(payload: dict[str, Any], name: str) -> int | None:
    """A NumericDate claim as whole seconds, or None when it is not an integer within the years 1970 to 9999."""
    value = payload.get(name)
    if type(value) is not int or not 0 <= value <= _LAST_MOMENT:
        return None
    return value


def _id(value: object) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None
