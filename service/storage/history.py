"""``CardHistory`` (service/pipeline/ports.py) from the issued-cards and feedback tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from service.errors import StorageUnavailable
from service.pipeline.ports import PastCard
from service.storage.database import Storage
from service.storage.models import feedback, issued_cards
from service.storage.patient_hash import context_hash, patient_hash


class StoredCardHistory:
    """Reads a patient's past cards by the salted patient hash the cards were recorded with."""

    def __init__(self, store: Storage) -> None:
        self._store = store

    def past_cards(
        self, patient_id: str, since: datetime, user_id: str | None = None
    ) -> Sequence[PastCard]:
        salt = self._store.salt()
        hashed = patient_hash(salt, patient_id)
        user_hash = context_hash(salt, "user", user_id) if user_id else None
        query = (
            select(
                issued_cards.c.card_uuid,
                issued_cards.c.topic,
                issued_cards.c.issued_at,
                feedback.c.outcome,
                feedback.c.outcome_at,
                feedback.c.override_code,
                issued_cards.c.hook,
                issued_cards.c.draft_order_id,
                issued_cards.c.order_item,
                issued_cards.c.user_hash,
            )
            .select_from(
                issued_cards.outerjoin(feedback, feedback.c.card_uuid == issued_cards.c.card_uuid)
            )
            .where(issued_cards.c.patient_hash == hashed, issued_cards.c.issued_at >= since)
            .order_by(issued_cards.c.issued_at, issued_cards.c.id, feedback.c.outcome_at)
        )
        try:
            with self._store.engine().connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as exc:
            raise StorageUnavailable("The card history could not be read.") from exc
        # One PastCard per card: later feedback rows (ordered by outcome_at) replace earlier.
        cards: dict[str, PastCard] = {}
        for (uuid, topic, issued_at, outcome, outcome_at, override_code, hook, draft_order,
             order_item, card_user) in rows:
            cards[uuid] = PastCard(
                uuid, topic, issued_at, outcome, outcome_at, override_code,
                hook=hook, draft_order=draft_order, order_item=order_item,
                same_user=user_hash is not None and card_user == user_hash,
            )
        return list(cards.values())
