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
answered ones, read once for both. Explain's recorder is told each comparison
(``order.not_twice.window``, ``order.snooze.tolerated_before``) and each hold.
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
from service.pipeline.rules.trace import NO_TRACE, Recorder
from service.pipeline.snooze import Snoozed, snoozing_card

# hook of this call -> hook whose answered cards are not repeated
DEDUPE_AFTER: dict[str, str] = {"order-sign": "order-select"}
ANSWERED = frozenset({"accepted", "overridden"})
# explain: a window wide enough to find the latest "tolerated before" override read
_ANY_AGE_DAYS = 36_500


@dataclass(frozen=True)
class Windows:
    dedupe_minutes: int
    snooze_days: int  # the snooze days of order-trigger-drug; 0: never snoozed

    def since(self, now: datetime) -> datetime:
        return now - max(timedelta(minutes=self.dedupe_minutes),
                         timedelta(days=self.snooze_days))


@dataclass(frozen=True)
class HistoryRead:
    """What explain shows of the card history read (the hook's read, never written)."""

    read: bool  # False: no history given, no patient id, or it could not be read
    since: datetime
    answered_cards: int
    dedupe_minutes: int
    snooze_days: int
    unavailable: str | None = None


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
                     windows: Windows, now: datetime, trace: Recorder = NO_TRACE) -> bool:
    earlier_hook = DEDUPE_AFTER.get(hook)
    if earlier_hook is None:
        return False
    since = now - timedelta(minutes=windows.dedupe_minutes)
    held = any(
        card.hook == earlier_hook and card.topic == decision.topic
        and card.draft_order == decision.draft.reference and card.same_user
        and card.outcome in ANSWERED and since <= card.issued_at <= now
        for card in past
    )
    if trace.enabled:
        _explain_not_twice(decision, past, earlier_hook, held, windows, now, trace)
    return held


def _explain_not_twice(decision: OrderDecision, past: Sequence[PastCard], earlier_hook: str,
                       held: bool, windows: Windows, now: datetime, trace: Recorder) -> None:
    """order.not_twice.window: minutes since the latest card of this topic for this draft
    answered at the earlier hook by the same user, against order_dedupe_minutes."""
    answered = [
        card for card in past
        if card.hook == earlier_hook and card.topic == decision.topic
        and card.draft_order == decision.draft.reference and card.same_user
        and card.outcome in ANSWERED and card.issued_at <= now
    ]
    latest = max(answered, key=lambda c: c.issued_at, default=None)
    draft = decision.draft.reference
    if latest is None:
        trace.compare("order.not_twice.window", None, "min", windows.dedupe_minutes, "<=",
                      False, f"no card of this topic for this draft answered at "
                      f"{earlier_hook} by the same user", draft=draft)
        return
    minutes = round((now - latest.issued_at).total_seconds() / 60, 1)
    trace.compare("order.not_twice.window", minutes, "min", windows.dedupe_minutes, "<=",
                  held, f"issued at {earlier_hook} to the same user, {latest.outcome}",
                  draft=draft)
    if held:
        trace.outcome(decision.topic, True, f"not twice: shown at {earlier_hook} "
                      f"{minutes:g} minutes ago and {latest.outcome} by the same user",
                      draft=draft, held="not_twice")


def _explain_snooze(decision: OrderDecision, past: Sequence[PastCard], key: str | None,
                    marker: str | None, held: Snoozed | None, knowledge: Knowledge,
                    windows: Windows, now: datetime, trace: Recorder) -> None:
    """order.snooze.tolerated_before: days since the latest "tolerated before" override of
    this ingredient and route, against snooze_days (explain only)."""
    days = windows.snooze_days
    draft = decision.draft.reference
    if marker is None or key is None:
        label = decision.topic
        if decision.trigger is not None:
            drug = knowledge.triggers.drugs[decision.trigger]
            label = knowledge.triggers.classes[drug.trigger_class].label
        trace.compare("order.snooze.tolerated_before", None, "d", days, "<", False,
                      f"{label}: never snoozed", draft=draft)
        return
    if days <= 0:
        trace.compare("order.snooze.tolerated_before", None, "d", days, "<", False,
                      "snoozing is off here (a test patient, or snooze_days 0)", draft=draft)
        return
    card = None
    if held is not None:
        card = next((c for c in past if c.card_uuid == held.overridden_card), None)
    if card is None:  # the latest such override of any age read, to show its days
        card = snoozing_card(past, topic=decision.topic, fingerprint=marker,
                             days=_ANY_AGE_DAYS, now=now, snooze_key=key)
    if card is None or card.outcome_at is None:
        trace.compare("order.snooze.tolerated_before", None, "d", days, "<", False,
                      f"no \"Tolerated before\" override of {key} on record", draft=draft)
        return
    age = round((now - card.outcome_at).total_seconds() / 86400, 2)
    trace.compare("order.snooze.tolerated_before", age, "d", days, "<", held is not None,
                  f"{key} overridden \"Tolerated before\" on {card.outcome_at.date()}",
                  draft=draft)
    if held is not None:
        trace.outcome(decision.topic, True, f"snoozed until {held.until.date()}: "
                      f"{key} tolerated before (card {held.overridden_card})", draft=draft,
                      held="snoozed")


def _snoozed(decision: OrderDecision, past: Sequence[PastCard], knowledge: Knowledge,
             windows: Windows, now: datetime, trace: Recorder = NO_TRACE) -> Snoozed | None:
    key = snooze_key(decision, knowledge)
    marker = order_fingerprint(decision.topic, key)
    held = None
    if marker is not None:
        card = snoozing_card(past, topic=decision.topic, fingerprint=marker,
                             days=windows.snooze_days, now=now, snooze_key=key)
        if card is not None and card.outcome_at is not None:
            held = Snoozed(topic=decision.topic, fingerprint=marker,
                           overridden_card=card.card_uuid,
                           until=card.outcome_at + timedelta(days=windows.snooze_days),
                           snooze_key=key)
    if trace.enabled and decision.topic in SNOOZABLE_ORDER_TOPICS:
        _explain_snooze(decision, past, key, marker, held, knowledge, windows, now, trace)
    return held


def not_twice(decisions: list[OrderDecision], past: Sequence[PastCard], *, hook: str,
              knowledge: Knowledge, windows: Windows, now: datetime,
              trace: Recorder = NO_TRACE) -> Filtered:
    """``trace``: explain's recorder, given only when the card history was read."""
    shown: list[OrderDecision] = []
    deduplicated: list[OrderDecision] = []
    snoozed: list[Snoozed] = []
    for decision in decisions:
        if _answered_before(decision, past, hook, windows, now, trace):
            deduplicated.append(decision)
        elif (held := _snoozed(decision, past, knowledge, windows, now, trace)) is not None:
            snoozed.append(held)
        else:
            shown.append(decision)
    return Filtered(shown, deduplicated, snoozed)
