"""The storage side of the core's CardHistory port, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from service import create_app
from service.pipeline.ports import CardHistory
from service.storage.history import _ANSWERED_CARDS, StoredCardHistory
from service.storage.issued import record_issued_cards
from service.web.storage import storage
from tests.support.cards import card
from tests.support.storage_fixtures import NOW

FEEDBACK = "/cds-services/mcas-therapy-tier/feedback"


def _record(app: Any, patient: str, cards: list[dict[str, Any]], when: Any) -> None:
    with app.app_context():
        assert record_issued_cards(
            storage(),
            cards,
            hook_instance="h",
            patient_id=patient,
            issued_at=when,
            thresholds_version="v",
        )


def test_past_cards_carry_their_latest_feedback(storage_config: dict[str, Any]) -> None:
    app = create_app(storage_config)
    shown = card("tier-2", suggestion="s-1")
    ignored, other_patient = card("albuterol"), card("tier-2")
    _record(app, "p-1", [shown, ignored], NOW - timedelta(days=3))
    _record(app, "p-2", [other_patient], NOW - timedelta(days=2))
    client: FlaskClient = app.test_client()
    for outcome, at in (("accepted", NOW - timedelta(days=2)), ("overridden", NOW)):
        item: dict[str, Any] = {
            "card": shown["uuid"],
            "outcome": outcome,
            "outcomeTimestamp": at.isoformat(),
        }
        if outcome == "accepted":
            item["acceptedSuggestions"] = [{"id": "s-1"}]
        else:
            item["overrideReason"] = {
                "reason": {"system": "https://mcas-cds.invalid/or", "code": "already-addressed"}
            }
        assert client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200

    with app.app_context():
        history: CardHistory = StoredCardHistory(storage())
        found = history.past_cards("p-1", NOW - timedelta(days=30))
        assert [(c.topic, c.outcome) for c in found] == [
            ("tier-2", "overridden"),
            ("albuterol", None),
        ]
        assert found[0].override_code == "already-addressed"
        assert found[0].card_uuid == shown["uuid"]
        assert history.past_cards("p-1", NOW - timedelta(days=1)) == []
        assert [c.card_uuid for c in history.past_cards("p-2", NOW - timedelta(days=30))] == [
            other_patient["uuid"]
        ]


def test_answered_cards_start_from_the_patients_feedback(storage_config: dict[str, Any]) -> None:
    """The hook's snooze read finds a patient's answered cards through feedback's patient
    hash (0008): a chart opened many times (here 40 unanswered cards) adds no rows to it,
    and the statement's plan starts from that index on both databases."""
    app = create_app(storage_config)
    answered = card("tier-2", suggestion="s-1")
    _record(app, "p-1", [answered], NOW - timedelta(days=3))
    for day in range(40):
        _record(app, "p-1", [card("tier-2"), card("albuterol")], NOW - timedelta(hours=day))
    _record(app, "p-2", [card("tier-2")], NOW - timedelta(days=1))
    client: FlaskClient = app.test_client()
    item = {"card": answered["uuid"], "outcome": "overridden",
            "outcomeTimestamp": (NOW - timedelta(days=2)).isoformat()}
    assert client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200

    with app.app_context():
        history = StoredCardHistory(storage())
        found = history.answered_cards("p-1", NOW - timedelta(days=30), ["tier-2", "albuterol"])
        assert [(c.card_uuid, c.outcome) for c in found] == [(answered["uuid"], "overridden")]
        assert history.answered_cards("p-2", NOW - timedelta(days=30), ["tier-2"]) == []
        engine = storage().engine()
        statement = str(_ANSWERED_CARDS.compile(engine))
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            if engine.dialect.name == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + statement,
                               ("x", "2026-01-01 00:00:00.000000"))
                plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            else:
                cursor.execute("SET enable_seqscan = off")
                cursor.execute("EXPLAIN " + statement,
                               {"hashed": "x", "since": NOW - timedelta(days=30)})
                plan = "\n".join(str(row[0]) for row in cursor.fetchall())
        finally:
            raw.close()
    assert "ix_feedback_patient_hash" in plan, plan
