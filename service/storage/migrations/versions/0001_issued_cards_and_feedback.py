"""Issued cards and feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.storage.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_cards",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.String(64), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("thresholds_version", sa.String(64), nullable=True),
        sa.Column("patient_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("card_uuid", name="uq_issued_cards_card_uuid"),
    )
    op.create_index("ix_issued_cards_issued_at", "issued_cards", ["issued_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_key", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_at", UTCDateTime(), nullable=False),
        sa.Column("accepted_suggestions", sa.Text, nullable=True),
        sa.Column("override_system", sa.String(256), nullable=True),
        sa.Column("override_code", sa.String(128), nullable=True),
        sa.Column("override_display", sa.String(256), nullable=True),
        sa.Column("user_comment", sa.Text, nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("item_key", name="uq_feedback_item_key"),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])
    op.create_index("ix_feedback_outcome_at", "feedback", ["outcome_at"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("issued_cards")
