"""The tables. Portable SQLAlchemy types only: the same schema runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC, returned timezone-aware: SQLite keeps no zone, and PostgreSQL needs no session zone."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def json_text(session: Session, name: str) -> ColumnElement[Any]:
    """A bound parameter that carries JSON already serialized into a JSON column: SQLite stores the text as it
    is, PostgreSQL needs it cast (it would refuse character varying)."""
    text = bindparam(name, type_=Text)
    return cast(text, JSON) if session.get_bind().dialect.name == "postgresql" else text


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Provider(Base):
    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    api_endpoint: Mapped[str] = mapped_column(Text)
    auth_method: Mapped[str] = mapped_column(String(20))
    auth_config: Mapped[dict[str, Any]]
    secret_ciphertexts: Mapped[dict[str, Any]]
    secret_fingerprints: Mapped[dict[str, Any]]
    capabilities: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_tested: Mapped[datetime | None]
    test_result: Mapped[dict[str, Any] | None]
    etag: Mapped[str] = mapped_column(String(40))


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("provider_id", "identifier", name="uq_models_provider_identifier"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id", ondelete="RESTRICT"), index=True)
    identifier: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    context_length: Mapped[int] = mapped_column(Integer)
    capabilities: Mapped[dict[str, Any]]
    pricing_info: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(20))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_tested: Mapped[datetime | None]
    test_result: Mapped[dict[str, Any] | None]
    etag: Mapped[str] = mapped_column(String(40))


class Template(Base):
    __tablename__ = "templates"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    provider_config: Mapped[dict[str, Any]]
    secret_ciphertexts: Mapped[dict[str, Any]]
    secret_fingerprints: Mapped[dict[str, Any]]
    default_models: Mapped[list[Any]]
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    etag: Mapped[str] = mapped_column(String(40))


class AuditEntry(Base):
    """One admin mutation: who, what, when, on which resource, in which request. Never a field value."""

    __tablename__ = "audit_log"

    # BIGINT on PostgreSQL; SQLite only auto-increments a column declared INTEGER PRIMARY KEY.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(50), index=True)
    resource_type: Mapped[str] = mapped_column(String(20), index=True)
    resource_id: Mapped[str | None] = mapped_column(String(64))
    resource_identifier: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None]


class RegistryState(Base):
    """One row: ``revision`` grows with every committed registry change, so replicas notice each other's writes."""

    __tablename__ = "registry_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
