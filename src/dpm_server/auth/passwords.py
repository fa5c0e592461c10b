"""argon2id password hashing (argon2-cffi's defaults are the RFC 9106 low-memory profile).

Each check takes 64 MiB and four threads of CPU for a while, on purpose. Logins therefore check passwords in a
small pool of the app's own (``AppContext.password_checks``), ``CHECKS_AT_ONCE`` at a time, at a lower CPU
priority: a burst of logins queues there instead of crowding out the threads, and the CPU, that serve every other
request.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

CHECKS_AT_ONCE = 2
_hasher = PasswordHasher(type=Type.ID)
# Verified against when the user does not exist, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
