"""The JWT replay cache shared by every replica (issue 17).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replay_jti",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("pending_until", sa.Float, nullable=True),
    )
    op.create_index("ix_replay_jti_expires_at", "replay_jti", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_replay_jti_expires_at", table_name="replay_jti")
    op.drop_table("replay_jti")
