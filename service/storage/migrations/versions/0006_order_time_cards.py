"""Order-time cards (issue 15): the hook, user, draft order and encounter of each issued card.

The issued-card record of an order-time card keeps the hook it was issued at, the user and
encounter (salted hashes, like the patient), the draft order it judged, and the trigger's
ingredient and route; "not twice" and the order-time snooze read them through the
CardHistory port (docs/clinical-rules.md §7). Patient-view cards leave them empty
(their hook is recorded too).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
# The cards-snooze revision 0005 sits between 0004 and this one on main. Until it lands
# on this branch, this revision sits on 0004 (the integrator sets 0005 when merging).
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild on SQLite); existing rows keep NULL.
    for name, length in (("hook", 32), ("user_hash", 64), ("encounter_hash", 64),
                         ("draft_order_id", 160), ("order_item", 128)):
        op.add_column("issued_cards", sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issued_cards") as batch:
        batch.drop_column("order_item")
        batch.drop_column("draft_order_id")
        batch.drop_column("encounter_hash")
        batch.drop_column("user_hash")
        batch.drop_column("hook")
