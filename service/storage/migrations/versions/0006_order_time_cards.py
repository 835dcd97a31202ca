"""Order-time cards (issue 15): the hook, user, draft order and encounter of each issued card.

The issued-card record of an order-time card keeps the hook it was issued at, the user and
encounter (salted hashes, like the patient) and the draft order it judged; "not twice"
reads them through the CardHistory port (docs/clinical-rules.md §7). The trigger's
ingredient and route, for the order-time snooze, is 0005's ``snooze_key``. Patient-view
cards leave them empty (their hook is recorded too).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild on SQLite); existing rows keep NULL.
    for name, length in (("hook", 32), ("user_hash", 64), ("encounter_hash", 64),
                         ("draft_order_id", 160)):
        op.add_column("issued_cards", sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issued_cards") as batch:
        batch.drop_column("draft_order_id")
        batch.drop_column("encounter_hash")
        batch.drop_column("user_hash")
        batch.drop_column("hook")
