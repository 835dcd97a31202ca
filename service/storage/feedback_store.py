"""Storing feedback items: all of a request's items in one transaction, each once."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select

from service.cdshooks.feedback import FeedbackItem
from service.storage.models import feedback, issued_cards
from service.storage.upsert import insert_or_ignore

UNKNOWN_TOPIC = "unknown"


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int
    # outcome -> items stored, split by test traffic: {("overridden", False): 1}
    counts: dict[tuple[str, bool], int] = field(default_factory=dict)


def store_feedback(
    engine: Engine, items: Iterable[FeedbackItem], received_at: datetime
) -> StoreResult:
    items = list(items)
    stored = 0
    with engine.begin() as connection:
        cards = sorted({item.card for item in items})
        topics: dict[str, str] = {}
        tests: dict[str, bool] = {}
        patients: dict[str, str] = {}
        counts: dict[tuple[str, bool], int] = {}
        if cards:
            query = select(
                issued_cards.c.card_uuid, issued_cards.c.topic, issued_cards.c.test,
                issued_cards.c.patient_hash,
            ).where(issued_cards.c.card_uuid.in_(cards))
            for found in connection.execute(query):
                topics[found.card_uuid] = found.topic
                tests[found.card_uuid] = bool(found.test)
                patients[found.card_uuid] = found.patient_hash
        for item in items:
            test = tests.get(item.card, False)
            row = {
                "item_key": item.key,
                "card_uuid": item.card,
                "topic": topics.get(item.card, UNKNOWN_TOPIC),
                "outcome": item.outcome,
                "outcome_at": item.outcome_at,
                "accepted_suggestions": (
                    json.dumps(list(item.accepted_suggestions))
                    if item.accepted_suggestions
                    else None
                ),
                "override_system": item.override_system,
                "override_code": item.override_code,
                "override_display": item.override_display,
                "user_comment": item.user_comment,
                "received_at": received_at,
                # a test patient's card: its feedback is test traffic too (issue 14)
                "test": test,
                # the snooze read finds a patient's answered cards by it (0008)
                "patient_hash": patients.get(item.card),
            }
            if insert_or_ignore(connection, feedback, row, "item_key"):
                stored += 1
                key = (item.outcome, test)
                counts[key] = counts.get(key, 0) + 1
    return StoreResult(stored=stored, duplicates=len(items) - stored, counts=counts)
