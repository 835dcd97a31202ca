"""An in-memory CardHistory for order-time tests (issue 15, 16): the cards given, as the
storage would answer them for one user, or a failure."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from service.errors import StorageUnavailable
from service.pipeline.orders.not_twice import order_fingerprint
from service.pipeline.ports import PastCard

PRESCRIBER = "Practitioner/example-prescriber"


class History:
    """Past cards of the patient; ``same_user`` holds only for ``user``."""

    def __init__(self, cards: Sequence[PastCard] = (), fail: bool = False,
                 user: str = PRESCRIBER) -> None:
        self.cards, self.fail, self.user = list(cards), fail, user

    def past_cards(self, patient_id: str, since: datetime, user_id: str | None = None
                   ) -> Sequence[PastCard]:
        if self.fail:
            raise StorageUnavailable("down")
        return [dataclasses.replace(c, same_user=c.same_user and user_id == self.user)
                for c in self.cards if c.issued_at >= since]

    def answered_cards(self, patient_id: str, since: datetime, topics: Collection[str],
                       user_id: str | None = None) -> Sequence[PastCard]:
        return [c for c in self.past_cards(patient_id, since, user_id)
                if c.outcome is not None and c.topic in topics]


def answered_at_select(now: datetime, draft: str, item: str, *, minutes: float = 10,
                       topic: str = "order-trigger-drug") -> PastCard:
    """A card of ``topic`` for ``draft`` shown at order-select ``minutes`` ago and
    overridden by the same user."""
    at = now - timedelta(minutes=minutes)
    return PastCard("card-select", topic, at, "overridden", at, "benefit-outweighs-risk",
                    hook="order-select", draft_order=draft, snooze_key=item, same_user=True,
                    fingerprint=order_fingerprint(topic, item))


def tolerated_before(now: datetime, item: str, *, days: float = 3,
                     topic: str = "order-trigger-drug") -> PastCard:
    """A card of ``topic`` for ``item`` (ingredient:route) overridden "tolerated before"
    ``days`` ago, for an earlier draft order, by another user."""
    at = now - timedelta(days=days)
    return PastCard("card-tolerated", topic, at, "overridden", at, "tolerated-before",
                    hook="order-sign", draft_order="MedicationRequest/old", snooze_key=item,
                    same_user=False, fingerprint=order_fingerprint(topic, item))
