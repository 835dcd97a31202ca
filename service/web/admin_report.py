"""GET /admin/api/feedback-report: card outcomes per topic, for administrators only.

``format=csv`` answers the same numbers as CSV (a download); any other format is a 400,
never silently JSON. ``include_test=true`` counts ``mcas-cds check``'s test traffic too.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from service.errors import BadRequest
from service.ops.state import state
from service.storage.report import outcomes_report, parse_period, report_csv
from service.web.admin_auth import require_admin
from service.web.storage import storage

log = logging.getLogger(__name__)

bp = Blueprint("admin_report", __name__)

_FORMATS = ("json", "csv")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def _flag(name: str) -> bool:
    raw = (request.args.get(name) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise BadRequest(f"{name}: expected true or false.", fields=[name])


def _topic() -> str | None:
    raw = request.args.get("topic")
    if raw is None or raw in {"", "all"}:
        return None
    if raw not in state().knowledge.cards.topics and raw != "unknown":
        raise BadRequest(f"topic: '{raw[:64]}' is not a card topic.", fields=["topic"])
    return raw


@bp.get("/admin/api/feedback-report")
@require_admin
def feedback_report() -> ResponseReturnValue:
    output = (request.args.get("format") or "json").strip().lower()
    if output not in _FORMATS:
        raise BadRequest("format: expected json or csv.", fields=["format"])
    try:
        since, until = parse_period(
            request.args.get("since"), request.args.get("until"), state().clock()
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    # A database that cannot answer becomes 503 + Retry-After (service/web/errors.py).
    report = outcomes_report(storage().engine(), since, until, topic=_topic(),
                             include_test=_flag("include_test"))
    if output == "csv":
        name = f"card-outcomes-{report['since'][:10]}-{report['until'][:10]}.csv"
        return Response(report_csv(report), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return jsonify(report)
