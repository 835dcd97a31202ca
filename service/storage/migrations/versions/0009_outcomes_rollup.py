"""The outcomes report's daily roll-up and the rules version of issued cards (issue 16).

- issued_cards.rules_version: the rules version of each card (NULL for cards recorded
  before 0009: reported as "unknown", never guessed).
- The report's covering index gains the hook (the report groups by service), the status,
  the test flag and the rules version; the card lookup of feedback gains the same.
- feedback (received_at): the late feedback read; feedback (card_uuid, outcome,
  received_at, id): "the first item of this outcome the service received for the card".
- report_rollup_state / report_rollup_days and the report_daily_* tables: counts per
  closed UTC day, filled by the report and by `db purge` (service/storage/rollup.py).

Revision ID: 0009
Revises: 0008 (feedback's patient hash)
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from service.storage.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_REPORT_0009 = ["issued_at", "topic", "hook", "status", "test", "thresholds_version",
                "rules_version", "patient_hash"]
_CARD_0009 = ["card_uuid", "topic", "hook", "thresholds_version", "rules_version"]


def _daily_split() -> list[sa.Column[Any]]:
    """What the daily card and outcome counts are split by (fresh columns per table)."""
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        # the Monday of the day (weeks from Monday, UTC): the report reads by week
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("service", sa.String(16), nullable=False),
        sa.Column("thresholds_version", sa.String(64), nullable=False),
        sa.Column("rules_version", sa.String(32), nullable=False),
        sa.Column("test", sa.Boolean, nullable=False),
    ]


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild): cards recorded before stay NULL ("unknown").
    op.add_column("issued_cards", sa.Column("rules_version", sa.String(32), nullable=True))
    op.drop_index("ix_issued_cards_report", table_name="issued_cards")
    op.create_index("ix_issued_cards_report", "issued_cards", _REPORT_0009)
    op.drop_index("ix_issued_cards_card_topic", table_name="issued_cards")
    op.create_index("ix_issued_cards_card_topic", "issued_cards", _CARD_0009)
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])
    op.create_index("ix_feedback_first", "feedback",
                    ["card_uuid", "outcome", "received_at", "id"])

    op.create_table(
        "report_rollup_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("closed_until", UTCDateTime(), nullable=False),
        sa.Column("received_until", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "report_rollup_days",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("rolled_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "report_daily_cards",
        *_daily_split(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cards", sa.Integer, nullable=False),
    )
    op.create_index("ix_report_daily_cards_day", "report_daily_cards",
                    ["day", "topic", "batch"])
    op.create_table(
        "report_daily_outcomes",
        *_daily_split(),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("cards", sa.Integer, nullable=False),
    )
    op.create_index("ix_report_daily_outcomes_day", "report_daily_outcomes",
                    ["day", "topic", "batch"])
    op.create_table(
        "report_daily_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("test", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("override_system", sa.String(256), nullable=True),
        sa.Column("override_code", sa.String(128), nullable=True),
        sa.Column("override_display", sa.String(256), nullable=True),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("comments", sa.Integer, nullable=False),
    )
    op.create_index("ix_report_daily_items_day", "report_daily_items",
                    ["day", "topic", "batch"])
    op.create_table(
        "report_daily_patients",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("service", sa.String(16), nullable=False),
        sa.Column("test", sa.Boolean, nullable=False),
        sa.Column("sketch", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_report_daily_patients_day", "report_daily_patients",
                    ["day", "topic", "batch"])


def downgrade() -> None:
    for table in ("report_daily_patients", "report_daily_items", "report_daily_outcomes",
                  "report_daily_cards"):
        op.drop_index(f"ix_{table}_day", table_name=table)
        op.drop_table(table)
    op.drop_table("report_rollup_days")
    op.drop_table("report_rollup_state")
    op.drop_index("ix_feedback_first", table_name="feedback")
    op.drop_index("ix_feedback_received_at", table_name="feedback")
    op.drop_index("ix_issued_cards_card_topic", table_name="issued_cards")
    op.create_index("ix_issued_cards_card_topic", "issued_cards",
                    ["card_uuid", "topic", "thresholds_version"])
    op.drop_index("ix_issued_cards_report", table_name="issued_cards")
    op.create_index("ix_issued_cards_report", "issued_cards",
                    ["issued_at", "topic", "thresholds_version", "patient_hash"])
    with op.batch_alter_table("issued_cards") as batch:
        batch.drop_column("rules_version")
