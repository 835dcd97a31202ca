"""Snoozes and test traffic (issue 14): fingerprint, test flag and status of issued cards,
the test flag of feedback, and the index the snooze read needs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild on SQLite): existing rows are shown, real cards.
    op.add_column("issued_cards", sa.Column("fingerprint", sa.String(64), nullable=True))
    op.add_column(
        "issued_cards",
        sa.Column("test", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "issued_cards",
        sa.Column("status", sa.String(16), nullable=False, server_default="issued"),
    )
    op.add_column("issued_cards", sa.Column("snooze_key", sa.String(128), nullable=True))
    op.add_column("issued_cards", sa.Column("snooze_cleared_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_issued_cards_patient_hash", "issued_cards", ["patient_hash", "topic", "issued_at"]
    )
    op.add_column(
        "feedback",
        sa.Column("test", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("test")
    op.drop_index("ix_issued_cards_patient_hash", table_name="issued_cards")
    with op.batch_alter_table("issued_cards") as batch:
        for column in ("snooze_cleared_at", "snooze_key", "status", "test", "fingerprint"):
            batch.drop_column(column)
