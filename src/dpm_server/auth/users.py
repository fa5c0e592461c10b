"""Users: creation, the first-start admin, and lookup by name or email."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dpm_server.auth.passwords import hash_password, verify_password
from dpm_server.db.tables import User, utcnow
from dpm_server.errors import AlreadyExists

Role = Literal["admin", "user"]


def create_user(session: Session, *, username: str, password: str | None, role: Role, email: str | None = None) -> User:
    """A new user; ``password=None`` makes an account that cannot log in (the embedded registry's own admin)."""
    taken = select(User.id).where(or_(User.username == username, User.email == (email or username)))
    if session.scalar(taken) is not None:
        raise AlreadyExists(f"A user named '{username}' already exists", field="username")
    user = User(
        id=str(uuid.uuid4()),
        username=username,
        email=email,
        password_hash=hash_password(password) if password is not None else None,
        role=role,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def ensure_first_admin(session: Session, *, username: str | None, password: str | None, email: str | None) -> bool:
    """Creates the admin from DPM_ADMIN_* when the user table is empty; True when it did."""
    if not username or not password or session.scalar(select(func.count()).select_from(User)):
        return False
    create_user(session, username=username, password=password, role="admin", email=email)
    return True


def ensure_service_admin(session: Session, *, username: str) -> User:
    """A password-less admin for in-process callers, created on first use."""
    user = session.scalar(select(User).where(User.username == username))
    return user or create_user(session, username=username, password=None, role="admin")


def authenticate(session: Session, *, login: str, password: str) -> User | None:
    """The user whose name or email is ``login``, when ``password`` is theirs.

    Call it in a read transaction: the password check is slow on purpose, and must not hold the write lock.
    """
    user = session.scalar(select(User).where(or_(User.username == login, User.email == login)))
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok and user is not None else None
