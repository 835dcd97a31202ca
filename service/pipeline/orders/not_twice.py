"""Order-time cards not shown twice (docs/clinical-rules.md §7's order-time exception).

- Not twice: at order-sign, a card is left out when a card of the same topic for the same
  draft order was issued at order-select to the same user within order_dedupe_minutes and
  answered (accepted or overridden). Without such an answer it is shown again. Which hook's
  past cards count for which hook is data (``DEDUPE_AFTER``), not a branch per hook. It is
  not a snooze: it applies to test patients too.
- Snooze: order-trigger-drug overridden with "tolerated before" is not shown again for the
  same ingredient and route (the card's ``snooze_key``) for that topic's ``snooze_days``;
  never for a trigger class that may not be snoozed (beta-blockers, neuromuscular
  blockers, iodinated contrast). The decision is the patient-view snooze's
  (service/pipeline/snooze.py, whose ``SNOOZE_REASON`` limits it to "tolerated before"),
  with a fingerprint of the topic and the ingredient and route: time passing or other
  records never change it.
The past cards come through the CardHistory port (service/pipeline/ports.py): only the
answered ones, read once for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.knowledge.model import Knowledge
from service.knowledge.topics import SNOOZABLE_ORDER_TOPICS
from service.pipeline.fingerprint import fingerprint
from service.pipeline.orders.rules import OrderDecision
from service.pipeline.ports import PastCard
from service.pipeline.snooze import Snoozed, snoozing_card

# hook of this call -> hook whose answered cards are not repeated
DEDUPE_AFTER: dict[str, str] = {"order-sign": "order-select"}
ANSWERED = frozenset({"accepted", "overridden"})


@dataclass(frozen=True)
class Windows:
    dedupe_minutes: int
    snooze_days: int  # the snooze days of order-trigger-drug; 0: never snoozed

    def since(self, now: datetime) -> datetime:
        return now - max(timedelta(minutes=self.dedupe_minutes),
                         timedelta(days=self.snooze_days))


@dataclass(frozen=True)
class Filtered:
    shown: list[OrderDecision]
    deduplicated: list[OrderDecision]
    snoozed: list[Snoozed]


def snooze_key(decision: OrderDecision, knowledge: Knowledge) -> str | None:
    """The ingredient and route an override "tolerated before" snoozes, or None when this
    decision can never be snoozed (another topic, or a class that may not be)."""
    if decision.topic not in SNOOZABLE_ORDER_TOPICS or decision.trigger is None:
        return None
    trigger_class = knowledge.triggers.drugs[decision.trigger].trigger_class
    if not knowledge.triggers.classes[trigger_class].snooze:
        return None
    return decision.draft.item(decision.trigger)


def order_fingerprint(topic: str, key: str | None) -> str | None:
    """What an order-time snooze is kept for: the topic and the ingredient and route."""
    return None if key is None else fingerprint(topic, (), (key,))


def _answered_before(decision: OrderDecision, past: Sequence[PastCard], hook: str,
                     windows: Windows, now: datetime) -> bool:
    earlier_hook = DEDUPE_AFTER.get(hook)
    if earlier_hook is None:
        return False
    since = now - timedelta(minutes=windows.dedupe_minutes)
    return any(
        card.hook == earlier_hook and card.topic == decision.topic
        and card.draft_order == decision.draft.reference and card.same_user
        and card.outcome in ANSWERED and since <= card.issued_at <= now
        for card in past
    )


def _snoozed(decision: OrderDecision, past: Sequence[PastCard], knowledge: Knowledge,
             windows: Windows, now: datetime) -> Snoozed | None:
    key = snooze_key(decision, knowledge)
    marker = order_fingerprint(decision.topic, key)
    if marker is None:
        return None
    card = snoozing_card(past, topic=decision.topic, fingerprint=marker,
                         days=windows.snooze_days, now=now, snooze_key=key)
    if card is None or card.outcome_at is None:
        return None
    return Snoozed(topic=decision.topic, fingerprint=marker, overridden_card=card.card_uuid,
                   until=card.outcome_at + timedelta(days=windows.snooze_days),
                   snooze_key=key)


def not_twice(decisions: list[OrderDecision], past: Sequence[PastCard], *, hook: str,
              knowledge: Knowledge, windows: Windows, now: datetime) -> Filtered:
    shown: list[OrderDecision] = []
    deduplicated: list[OrderDecision] = []
    snoozed: list[Snoozed] = []
    for decision in decisions:
        if _answered_before(decision, past, hook, windows, now):
            deduplicated.append(decision)
        elif (held := _snoozed(decision, past, knowledge, windows, now)) is not None:
            snoozed.append(held)
        else:
            shown.append(decision)
    return Filtered(shown, deduplicated, snoozed)
