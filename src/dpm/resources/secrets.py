"""Which fields are secret, and the fingerprint scheme that lets a client compare secrets it cannot read.

Fingerprint scheme ``sha256:<salt>:<digest>``: ``salt`` is 16 random bytes in hex, ``digest`` is
``sha256(salt_bytes + value_utf8)`` in hex. A client holding a candidate value recomputes the digest with the same
salt to tell "unchanged" from "changed"; the server never reveals the value itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

REDACTED = "[REDACTED]"

_ALWAYS_SENSITIVE = frozenset({"apikey", "clientsecret", "secretaccesskey", "sessiontoken"})
SENSITIVE_FIELDS = (
    "apiKey, clientSecret, secretAccessKey, sessionToken, and any name that holds secret, password or token or ends "
    "in key (not accessKeyId), in any case"
)  # what ``is_sensitive_field`` accepts, in words for messages
_NEVER_SENSITIVE = frozenset({"accesskeyid"})


def is_sensitive_field(name: str) -> bool:
    """True for an ``authConfig.fields`` name whose value must be encrypted and never returned."""
    lowered = name.lower()
    if lowered in _NEVER_SENSITIVE:
        return False
    return (
        lowered in _ALWAYS_SENSITIVE
        or any(word in lowered for word in ("secret", "password", "token"))
        or lowered.endswith("key")
    )


def fingerprint(value: str, salt: str | None = None) -> str:
    """A salted fingerprint of ``value`` in the ``sha256:<salt>:<digest>`` scheme."""
    salt = salt if salt is not None else secrets.token_hex(16)
    digest = hashlib.sha256(bytes.fromhex(salt) + value.encode()).hexdigest()
    return f"sha256:{salt}:{digest}"


def fingerprint_matches(print_: str, value: str) -> bool | None:
    """Whether ``value`` has fingerprint ``print_``; None when the fingerprint's scheme is unknown."""
    scheme, _, rest = print_.partition(":")
    salt, _, digest = rest.partition(":")
    if scheme != "sha256" or not salt or not digest:
        return None
    try:
        expected = fingerprint(value, salt)
    except ValueError:
        return None
    return hmac.compare_digest(expected, print_)
