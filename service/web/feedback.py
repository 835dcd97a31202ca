"""POST /cds-services/{id}/feedback: 200 only once every item is stored durably."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from service.cdshooks.discovery import SERVICE_HOOKS
from service.cdshooks.feedback import load_feedback
from service.cdshooks.json_body import parse_json_body
from service.ops import metrics
from service.ops.state import state
from service.storage.errors import unavailable_as
from service.storage.feedback_store import store_feedback
from service.web.storage import storage

log = logging.getLogger(__name__)

bp = Blueprint("feedback", __name__)

@bp.post("/cds-services/<service_id>/feedback")
def receive_feedback(service_id: str) -> ResponseReturnValue:
    if service_id not in SERVICE_HOOKS:  # every service's cards take feedback
        abort(404, description=f"No CDS service with id '{service_id[:64]}'.")
    items = load_feedback(parse_json_body(request.get_data(cache=False)))
    # Never 200 for feedback that was not stored: 503 + Retry-After tells the EHR to retry.
    with unavailable_as(
        "Feedback could not be stored just now; retry later.", operation="store_feedback"
    ):
        result = store_feedback(storage().engine(), items, state().clock())
    for (outcome, test), count in result.counts.items():
        metrics.record_feedback(outcome, test, count)
    log.info("feedback: %d item(s) stored, %d duplicate(s)", result.stored, result.duplicates)
    return jsonify({"stored": result.stored, "duplicates": result.duplicates})
