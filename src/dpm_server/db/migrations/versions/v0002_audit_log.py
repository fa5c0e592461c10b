"""The audit log: one row per admin mutation, written in the mutation's own transaction.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        # BIGINT identity on PostgreSQL; INTEGER PRIMARY KEY (the rowid, auto-incremented) on SQLite.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("resource_type", sa.String(20), nullable=False),
        sa.Column("resource_id", sa.String(64)),
        sa.Column("resource_identifier", sa.String(255)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("details", sa.JSON()),
    )
    for column in ("occurred_at", "username", "action", "resource_type"):
        op.create_index(f"ix_audit_log_{column}", "audit_log", [column])


def downgrade() -> None:
    op.drop_table("audit_log")
