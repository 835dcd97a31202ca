"""Versioned administrator thresholds and the active pointer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.storage.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thresholds_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("values_json", sa.Text, nullable=False),
        sa.Column("changes_json", sa.Text, nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column(
            "parent_id", sa.Integer, sa.ForeignKey("thresholds_versions.id"), nullable=True
        ),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column(
            "rollback_of", sa.Integer, sa.ForeignKey("thresholds_versions.id"), nullable=True
        ),
    )
    op.create_table(
        "thresholds_active",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column(
            "version_id", sa.Integer, sa.ForeignKey("thresholds_versions.id"), nullable=False
        ),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("thresholds_active")
    op.drop_table("thresholds_versions")
