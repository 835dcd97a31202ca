"""Indexes the outcomes report reads through (issue 16).

- issued_cards (issued_at, topic, thresholds_version, patient_hash): the period's cards
  per topic and version, and their distinct patients, from the index alone.
- issued_cards (card_uuid, topic, thresholds_version): a feedback item's card, likewise.
- feedback (outcome_at, outcome, card_uuid): the period's feedback per outcome.
- thresholds_versions (created_at): the versions applied in the period (chart markers).

Revision ID: 0007
Revises: 0006 (order time)
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_issued_cards_report", "issued_cards",
        ["issued_at", "topic", "thresholds_version", "patient_hash"],
    )
    op.create_index(
        "ix_issued_cards_card_topic", "issued_cards", ["card_uuid", "topic", "thresholds_version"]
    )
    op.create_index("ix_feedback_report", "feedback", ["outcome_at", "outcome", "card_uuid"])
    op.create_index(
        "ix_thresholds_versions_created_at", "thresholds_versions", ["created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_thresholds_versions_created_at", table_name="thresholds_versions")
    op.drop_index("ix_feedback_report", table_name="feedback")
    op.drop_index("ix_issued_cards_card_topic", table_name="issued_cards")
    op.drop_index("ix_issued_cards_report", table_name="issued_cards")
