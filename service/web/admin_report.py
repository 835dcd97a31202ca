"""GET /admin/api/feedback-report: card outcomes per topic, for administrators only.

``format=csv`` answers the same numbers as CSV (a download); any other format is a 400,
never silently JSON. ``include_test=true`` counts ``mcas-cds check``'s test traffic too.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from service.charts.outcomes import reasons_svg, weekly_svg
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


def _report(topic: str | None) -> dict[str, Any]:
    now = state().clock()
    try:
        since, until = parse_period(request.args.get("since"), request.args.get("until"), now)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    # A database that cannot answer becomes 503 + Retry-After (service/web/errors.py).
    return outcomes_report(storage().engine(), since, until, topic=topic,
                           include_test=_flag("include_test"), now=now)


@bp.get("/admin/api/feedback-report")
@require_admin
def feedback_report() -> ResponseReturnValue:
    output = (request.args.get("format") or "json").strip().lower()
    if output not in _FORMATS:
        raise BadRequest("format: expected json or csv.", fields=["format"])
    report = _report(_topic())
    if output == "csv":
        name = f"card-outcomes-{report['since'][:10]}-{report['until'][:10]}.csv"
        return Response(report_csv(report), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return jsonify(report)


def _svg(text: str) -> Response:
    response = Response(text, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/admin/api/outcomes/weekly.svg")
@require_admin
def weekly_chart() -> ResponseReturnValue:
    """One topic's cards per week, thresholds and rules versions marked (the page draws
    it inline)."""
    topic = _topic()
    if topic is None:
        raise BadRequest("topic: a card topic is required for the weekly chart.",
                         fields=["topic"])
    return _svg(weekly_svg(_report(topic), topic))


@bp.get("/admin/api/outcomes/reasons.svg")
@require_admin
def reasons_chart() -> ResponseReturnValue:
    """Override reasons per topic as stacked bars."""
    return _svg(reasons_svg(_report(_topic())))
