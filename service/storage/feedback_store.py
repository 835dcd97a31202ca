"""Storing feedback items: all of a request's items in one transaction, each once."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
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


def store_feedback(
    engine: Engine, items: Iterable[FeedbackItem], received_at: datetime
) -> StoreResult:
    items = list(items)
    stored = 0
    with engine.begin() as connection:
        cards = sorted({item.card for item in items})
        topics: dict[str, str] = {}
        if cards:
            query = select(issued_cards.c.card_uuid, issued_cards.c.topic).where(
                issued_cards.c.card_uuid.in_(cards)
            )
            topics = {row.card_uuid: row.topic for row in connection.execute(query)}
        for item in items:
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
            }
            if insert_or_ignore(connection, feedback, row, "item_key"):
                stored += 1
    return StoreResult(stored=stored, duplicates=len(items) - stored)
