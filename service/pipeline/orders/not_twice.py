"""Order-time cards not shown twice (docs/clinical-rules.md §7's order-time exception).

- Not twice: at order-sign, a card is left out when a card of the same topic for the same
  draft order was issued at order-select to the same user within order_dedupe_minutes and
  answered (accepted or overridden). Without such an answer it is shown again. Which hook's
  past cards count for which hook is data (``DEDUPE_AFTER``), not a branch per hook.
- Snooze: order-trigger-drug overridden with "tolerated before" is not shown again for the
  same ingredient and route for that topic's snooze days; never for a trigger class that
  may not be snoozed (beta-blockers, neuromuscular blockers, iodinated contrast).
The past cards come through the CardHistory port (service/pipeline/ports.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.knowledge.model import Knowledge
from service.pipeline.orders.rules import OrderDecision
from service.pipeline.ports import PastCard

# hook of this call -> hook whose answered cards are not repeated
DEDUPE_AFTER: dict[str, str] = {"order-sign": "order-select"}
ANSWERED = frozenset({"accepted", "overridden"})
TOLERATED_BEFORE = "tolerated-before"
SNOOZABLE_TOPIC = "order-trigger-drug"


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
    snoozed: list[OrderDecision]


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
             windows: Windows, now: datetime) -> bool:
    if decision.topic != SNOOZABLE_TOPIC or decision.trigger is None or windows.snooze_days <= 0:
        return False
    trigger_class = knowledge.triggers.drugs[decision.trigger].trigger_class
    if not knowledge.triggers.classes[trigger_class].snooze:
        return False
    item = decision.draft.item(decision.trigger)
    since = now - timedelta(days=windows.snooze_days)
    return any(
        card.topic == SNOOZABLE_TOPIC and card.order_item == item
        and card.outcome == "overridden" and card.override_code == TOLERATED_BEFORE
        and (card.outcome_at or card.issued_at) >= since
        for card in past
    )


def not_twice(decisions: list[OrderDecision], past: Sequence[PastCard], *, hook: str,
              knowledge: Knowledge, windows: Windows, now: datetime) -> Filtered:
    shown: list[OrderDecision] = []
    deduplicated: list[OrderDecision] = []
    snoozed: list[OrderDecision] = []
    for decision in decisions:
        if _answered_before(decision, past, hook, windows, now):
            deduplicated.append(decision)
        elif _snoozed(decision, past, knowledge, windows, now):
            snoozed.append(decision)
        else:
            shown.append(decision)
    return Filtered(shown, deduplicated, snoozed)
