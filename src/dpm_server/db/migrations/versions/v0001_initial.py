"""Initial schema: users, refresh tokens, providers, models, templates and the registry revision.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("email", sa.String(255), unique=True),
        sa.Column("password_hash", sa.Text()),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.String(64), nullable=False, index=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("rotated_at", sa.DateTime()),
        sa.Column("revoked_at", sa.DateTime()),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("identifier", sa.String(50), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("api_endpoint", sa.Text(), nullable=False),
        sa.Column("auth_method", sa.String(20), nullable=False),
        sa.Column("auth_config", sa.JSON(), nullable=False),
        sa.Column("secret_ciphertexts", sa.JSON(), nullable=False),
        sa.Column("secret_fingerprints", sa.JSON(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(100)),
        *_timestamps(),
        sa.Column("last_tested", sa.DateTime()),
        sa.Column("test_result", sa.JSON()),
        sa.Column("etag", sa.String(40), nullable=False),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "provider_id", sa.String(36), sa.ForeignKey("providers.id", ondelete="RESTRICT"), nullable=False, index=True
        ),
        sa.Column("identifier", sa.String(100), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("context_length", sa.Integer(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("pricing_info", sa.JSON()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.Column("last_tested", sa.DateTime()),
        sa.Column("test_result", sa.JSON()),
        sa.Column("etag", sa.String(40), nullable=False),
        sa.UniqueConstraint("provider_id", "identifier", name="uq_models_provider_identifier"),
    )
    op.create_table(
        "templates",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text()),
        sa.Column("provider_config", sa.JSON(), nullable=False),
        sa.Column("secret_ciphertexts", sa.JSON(), nullable=False),
        sa.Column("secret_fingerprints", sa.JSON(), nullable=False),
        sa.Column("default_models", sa.JSON(), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(100)),
        *_timestamps(),
        sa.Column("etag", sa.String(40), nullable=False),
    )
    state = op.create_table(
        "registry_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    for table in ("registry_state", "templates", "models", "providers", "refresh_tokens", "users"):
        op.drop_table(table)
