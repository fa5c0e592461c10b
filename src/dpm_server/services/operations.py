"""What the operations endpoints ask of the database: is it ready, and at which registry revision.

Reasons name the kind of failure only (an exception's class, a migration revision), never an exception's text: a
driver's message can carry the host, the database user or the URL.
"""

from __future__ import annotations

import threading

from sqlalchemy.exc import SQLAlchemyError

from dpm_server.db import migrate
from dpm_server.db.engine import Database
from dpm_server.services.registry import current_revision


def unready_reason(db: Database) -> str | None:
    """None when the database answers and its schema is at this code's migrations; otherwise a short reason."""
    try:
        with db.engine.connect() as connection:
            applied = migrate.applied(connection)
    except SQLAlchemyError as exc:
        return f"database unreachable ({type(exc).__name__})"
    expected = migrate.heads()
    if applied != expected:
        at = ", ".join(sorted(applied)) or "no migration"
        return f"database schema is at {at}, this server needs {', '.join(sorted(expected))}"
    return None


class Readiness:
    """One readiness check at a time per app. A database that is slow to answer (a blackholed host, a held lock)
    would otherwise let every probe hold a thread of the request threadpool until it answers; meanwhile further probes
    answer 503 at once."""

    BUSY = "database slow to answer (the previous readiness check is still waiting)"

    def __init__(self, db: Database) -> None:
        self.db = db
        self._checking = threading.Lock()

    def unready_reason(self) -> str | None:
        if not self._checking.acquire(blocking=False):
            return self.BUSY
        try:
            return unready_reason(self.db)
        finally:
            self._checking.release()


def revision(db: Database) -> int | None:
    """The registry revision stored in the database, or None when it cannot be read."""
    try:
        with db.read() as session:
            return current_revision(session)
    except SQLAlchemyError:
        return None
