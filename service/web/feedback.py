"""POST /cds-services/{id}/feedback: 200 only once every item is stored durably."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from service.cdshooks.discovery import SERVICE_ID
from service.cdshooks.envelope import parse_json_body
from service.cdshooks.feedback import load_feedback
from service.errors import outcome_response
from service.ops import metrics
from service.ops.state import state
from service.storage.database import storage
from service.storage.feedback_store import store_feedback

log = logging.getLogger(__name__)

bp = Blueprint("feedback", __name__)

RETRY_AFTER_SECONDS = 5


@bp.post("/cds-services/<service_id>/feedback")
def receive_feedback(service_id: str) -> ResponseReturnValue:
    if service_id != SERVICE_ID:
        abort(404, description=f"No CDS service with id '{service_id[:64]}'.")
    items = load_feedback(parse_json_body(request.get_data(cache=False)))
    try:
        result = store_feedback(storage().engine(), items, state().clock())
    except SQLAlchemyError as exc:
        # Never 200 for feedback that was not stored: 503 tells the EHR to retry.
        log.error("feedback not stored: %s", type(getattr(exc, "orig", None) or exc).__name__)
        metrics.record_storage_failure("store_feedback")
        response = outcome_response(503, "Feedback could not be stored just now; retry later.")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.info("feedback: %d item(s) stored, %d duplicate(s)", result.stored, result.duplicates)
    return jsonify({"stored": result.stored, "duplicates": result.duplicates})
