"""GET and DELETE /admin/api/snoozes: a patient's snoozes, for administrators only.

docs/clinical-rules.md §8: an administrator can list and clear the snoozes of a patient.
The patient id arrives in the query string (never logged: the request log keeps the
route, gunicorn's access line the path without the query) and is hashed here with the
salt, as the cards were recorded; the answer never repeats it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from service.errors import BadRequest
from service.knowledge.topics import TOPICS
from service.ops.state import state
from service.pipeline.snooze import active_snoozes
from service.storage.errors import unavailable_as
from service.storage.history import StoredCardHistory, clear_snoozes
from service.web.admin_auth import require_admin
from service.web.storage import storage

log = logging.getLogger(__name__)

bp = Blueprint("admin_snoozes", __name__)

PATIENT_ID_MAX = 256


def _patient() -> str:
    patient = request.args.get("patient", "")
    if not patient.strip():
        raise BadRequest("patient: the patient id is required.", fields=["patient"])
    if len(patient) > PATIENT_ID_MAX:
        raise BadRequest(
            f"patient: at most {PATIENT_ID_MAX} characters.", fields=["patient"]
        )
    return patient


def _topic() -> str | None:
    topic = request.args.get("topic")
    if topic is None:
        return None
    if topic not in TOPICS:
        raise BadRequest(
            "topic: not a card topic (" + ", ".join(TOPICS) + ").", fields=["topic"]
        )
    return topic


def _iso(moment: object) -> str:
    return str(moment.isoformat()).replace("+00:00", "Z")  # type: ignore[attr-defined]


@bp.get("/admin/api/snoozes")
@require_admin
def list_snoozes() -> ResponseReturnValue:
    patient, topic = _patient(), _topic()
    current = state()
    thresholds, now = current.thresholds(), current.clock()
    longest = max(thresholds.snooze_days.values(), default=0)
    history = StoredCardHistory(storage())  # no budget: an administrator may wait
    past = history.past_cards(patient, now - timedelta(days=longest)) if longest else []
    snoozes = [
        {
            "topic": card.topic,
            "overridden_card": card.card_uuid,
            "overridden_at": _iso(card.outcome_at),
            "until": _iso(until),
            "override_reason": card.override_code,
        }
        for card, until in active_snoozes(past, thresholds, now)
        if topic is None or card.topic == topic
    ]
    held_back = sum(
        1 for card in past
        if card.status == "snoozed" and (topic is None or card.topic == topic)
    )
    return jsonify({"snoozes": snoozes, "snoozed_cards": held_back})


@bp.delete("/admin/api/snoozes")
@require_admin
def delete_snoozes() -> ResponseReturnValue:
    patient, topic = _patient(), _topic()
    with unavailable_as(
        "The snoozes could not be cleared just now; retry later.", operation="clear_snoozes"
    ):
        cleared = clear_snoozes(storage(), patient, state().clock(), topic)
    log.info("snoozes cleared by an administrator: %d overridden card(s)", cleared)
    return jsonify({"cleared": cleared})
