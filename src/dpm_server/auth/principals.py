"""Who is calling: the token's user, looked up once and then remembered for a few seconds.

Every admin request needs its user's current role. Reading it from the database on each request costs a
transaction and a threadpool hop; a short cache keeps that off the hot path while a role change (or a removed
user) still takes effect within ``ttl`` seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from dpm_server.db.engine import Database
from dpm_server.db.tables import User


@dataclass(frozen=True)
class Principal:
    id: str
    username: str
    role: str


class PrincipalCache:
    def __init__(self, db: Database, ttl: float = 5.0) -> None:
        self._db = db
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, user_id: str) -> tuple[bool, Principal | None]:
        with self._lock:
            entry = self._entries.get(user_id)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def load(self, user_id: str) -> Principal | None:
        with self._db.read() as session:
            user = session.scalar(select(User).where(User.id == user_id))
            principal = Principal(user.id, user.username, user.role) if user else None
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[user_id] = (time.monotonic() + self._ttl, principal)
        return principal
