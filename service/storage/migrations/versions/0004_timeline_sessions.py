"""The timeline app: OAuth state of launches under way, and sessions (both expiring).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timeline_launches",
        sa.Column("state_key", sa.String(64), primary_key=True),
        sa.Column("browser_key", sa.String(64), nullable=False),
        sa.Column("iss", sa.Text, nullable=False),
        sa.Column("token_endpoint", sa.Text, nullable=False),
        sa.Column("secret_json", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_timeline_launches_expires_at", "timeline_launches", ["expires_at"])
    op.create_table(
        "timeline_sessions",
        sa.Column("session_key", sa.String(64), primary_key=True),
        sa.Column("iss", sa.Text, nullable=False),
        sa.Column("secret_json", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_timeline_sessions_expires_at", "timeline_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_timeline_sessions_expires_at", table_name="timeline_sessions")
    op.drop_table("timeline_sessions")
    op.drop_index("ix_timeline_launches_expires_at", table_name="timeline_launches")
    op.drop_table("timeline_launches")
