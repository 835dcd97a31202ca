"""Histories of cards and feedback over several days, replayed into a database with the
outcomes roll-up run at chosen moments (tests/storage/test_rollup_exactness.py).

Everything is inserted in the order it would arrive (by ``issued_at`` / ``received_at``),
and a roll-up at minute m runs after every row stamped at or before m was written, as a
service's requests commit before their answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from service.storage.models import feedback, issued_cards
from service.storage.rollup import roll_up

START = datetime(2026, 11, 20, tzinfo=UTC)  # a Friday: the history spans two ISO weeks
DAYS = 6
TOPICS = ("tier-2", "albuterol")
HOOKS = ("patient-view", "order-select", "order-sign", None)
REASONS = ((None, None, None), ("https://mcas-cds.invalid/r", "declined", "Patient declined"),
           ("https://mcas-cds.invalid/r", "addressed", None))
# outcomeTimestamp before received: at once, a little, most of a day, over a day (late),
# three days (late); and a clock a few minutes ahead of ours
OUTCOME_BEFORE_MINUTES = (0, 10, 20 * 60, 30 * 60, 40 * 60, 72 * 60, -5)


@dataclass(frozen=True)
class Card:
    minute: int
    topic: str
    hook: str | None
    status: str
    test: bool
    patient: int
    thresholds_version: str | None
    rules_version: str | None


@dataclass(frozen=True)
class Feedback:
    card: int  # index into the cards (modulo their number); -1: a card never recorded
    after_minutes: int  # received this long after the card was issued
    outcome: str
    outcome_before: int  # outcomeTimestamp this many minutes before received_at
    reason: int
    comment: bool


@dataclass(frozen=True)
class History:
    cards: list[Card]
    feedback: list[Feedback]
    rollups: list[int]  # minutes after START


cards_st = st.builds(
    Card,
    minute=st.integers(0, DAYS * 1440 - 1),
    topic=st.sampled_from(TOPICS),
    hook=st.sampled_from(HOOKS),
    status=st.sampled_from(("issued", "issued", "snoozed")),
    test=st.booleans(),
    patient=st.integers(0, 4),
    thresholds_version=st.sampled_from(("sha256:aa", "sha256:bb", None)),
    rules_version=st.sampled_from(("2", "3", None)),
)
feedback_st = st.builds(
    Feedback,
    card=st.integers(-1, 30),
    after_minutes=st.integers(1, 5 * 1440),
    outcome=st.sampled_from(("accepted", "overridden", "overridden")),
    outcome_before=st.sampled_from(OUTCOME_BEFORE_MINUTES),
    reason=st.integers(0, len(REASONS) - 1),
    comment=st.booleans(),
)
histories = st.builds(
    History,
    cards=st.lists(cards_st, min_size=1, max_size=25),
    feedback=st.lists(feedback_st, min_size=1, max_size=30),
    rollups=st.lists(st.integers(0, DAYS * 1440), min_size=1, max_size=5),
)


def at(minute: int) -> datetime:
    return START + timedelta(minutes=minute)


def replay(engine: Engine, history: History) -> None:
    """Insert the history in arrival order, rolling up at each of its roll-up moments."""
    events: list[tuple[int, int, Any]] = []
    uuids = [uuid.UUID(int=index + 1).hex for index in range(len(history.cards))]
    for index, card in enumerate(history.cards):
        events.append((card.minute, 0, ("card", index, card)))
    for number, item in enumerate(history.feedback):
        base = history.cards[item.card % len(history.cards)].minute if item.card >= 0 else 0
        events.append((base + item.after_minutes, 0, ("feedback", number, item)))
    for minute in history.rollups:
        events.append((minute, 1, ("rollup", 0, None)))
    events.sort(key=lambda event: (event[0], event[1]))
    for minute, _, (kind, index, thing) in events:
        if kind == "card":
            _card(engine, uuids[index], thing)
        elif kind == "feedback":
            _feedback(engine, history, uuids, index, thing, at(minute))
        else:
            roll_up(engine, at(minute))


def _card(engine: Engine, card_uuid: str, card: Card) -> None:
    with engine.begin() as connection:
        connection.execute(insert(issued_cards).values(
            card_uuid=card_uuid, topic=card.topic, hook_instance="h", issued_at=at(card.minute),
            thresholds_version=card.thresholds_version, rules_version=card.rules_version,
            patient_hash=f"patient-{card.patient}", test=card.test, status=card.status,
            hook=card.hook))


def _feedback(engine: Engine, history: History, uuids: list[str], number: int,
              item: Feedback, received: datetime) -> None:
    index = item.card % len(history.cards)
    card = history.cards[index] if item.card >= 0 else None
    system, code, display = REASONS[item.reason] if item.outcome == "overridden" else (
        None, None, None)
    with engine.begin() as connection:
        connection.execute(insert(feedback).values(
            item_key=f"item-{number}",
            card_uuid=uuids[index] if card else "never-recorded",
            topic=card.topic if card else "unknown",
            outcome=item.outcome,
            outcome_at=received - timedelta(minutes=item.outcome_before),
            override_system=system, override_code=code, override_display=display,
            user_comment="a comment" if item.comment else None,
            received_at=received,
            test=card.test if card else False))


# Periods the report is asked for: whole days, partial days at either end, a period ending
# in the future (today read live), one day, and one before any data.
PERIODS = (
    (START, START + timedelta(days=DAYS + 6)),
    (START + timedelta(days=1), START + timedelta(days=4)),
    (START + timedelta(hours=7, minutes=13), START + timedelta(days=3, hours=19)),
    (START + timedelta(days=2), START + timedelta(days=3)),
    (START - timedelta(days=30), START + timedelta(days=2, hours=1)),
    (START - timedelta(days=30), START - timedelta(days=2)),
)
