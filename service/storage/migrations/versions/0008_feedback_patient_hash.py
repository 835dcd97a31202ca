"""The snooze read by the patient's answered cards alone (issue 18).

The hook's snooze read wants a patient's cards that have feedback. It used to find all of
the patient's recent cards (index on issued_cards.patient_hash) and probe the feedback of
each: its cost grew with every time the chart was opened (an inpatient's chart opened by
many clinicians: hundreds of cards a month), though only the answered ones matter.
feedback.patient_hash, copied from the card when the feedback arrives, with its index,
lets the read start from the patient's few answered cards.

Existing feedback is filled in from its card; feedback for a card the service never
recorded keeps NULL (it never snoozes anything).

Revision ID: 0008
Revises: 0007 (outcomes report indexes)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feedback", sa.Column("patient_hash", sa.String(64), nullable=True))
    op.execute(
        "UPDATE feedback SET patient_hash = (SELECT issued_cards.patient_hash "
        "FROM issued_cards WHERE issued_cards.card_uuid = feedback.card_uuid)"
    )
    op.create_index("ix_feedback_patient_hash", "feedback", ["patient_hash", "card_uuid"])


def downgrade() -> None:
    op.drop_index("ix_feedback_patient_hash", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("patient_hash")
