"""GET /admin/api/feedback-report: card outcomes per topic, for administrators only."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from service.errors import BadRequest
from service.ops.state import state
from service.settings import parse_bool
from service.storage.report import outcomes_report, parse_period
from service.web.admin_auth import require_admin
from service.web.storage import storage

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
    raw = request.args.get("include_test", "false")
    try:
        include_test = parse_bool(raw)
    except ValueError:
        raise BadRequest("include_test: must be true or false.", fields=["include_test"]) from None
    # A database that cannot answer becomes 503 + Retry-After (service/web/errors.py).
    return jsonify(
        outcomes_report(storage().engine(), since, until, include_test=include_test)
    )
