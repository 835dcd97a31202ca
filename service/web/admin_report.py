"""GET /admin/api/feedback-report: card outcomes per topic, for administrators only."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from service.errors import BadRequest, outcome_response
from service.ops.state import state
from service.storage.database import storage
from service.storage.report import outcomes_report, parse_period
from service.web.admin_auth import require_admin

log = logging.getLogger(__name__)

bp = Blueprint("admin_report", __name__)


@bp.get("/admin/api/feedback-report")
@require_admin
def feedback_report() -> ResponseReturnValue:
    try:
        since, until = parse_period(
            request.args.get("since"), request.args.get("until"), state().clock()
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    try:
        report = outcomes_report(storage().engine(), since, until)
    except SQLAlchemyError as exc:
        log.error("feedback report failed: %s", type(getattr(exc, "orig", None) or exc).__name__)
        response = outcome_response(503, "The database is unavailable just now; retry later.")
        response.headers["Retry-After"] = "5"
        return response
    return jsonify(report)
