from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from .. import metrics
from ..discovery import SERVICE_ID
from ..envelope import load_hook_request, parse_json_body
from ..pipeline import run_hook
from ..state import state

bp = Blueprint("hooks", __name__)


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> ResponseReturnValue:
    if service_id != SERVICE_ID:
        abort(404, description=f"No CDS service with id '{service_id[:64]}'.")
    hook_request = load_hook_request(parse_json_body(request.get_data(cache=False)))
    current = state()
    result = run_hook(
        hook_request,
        knowledge=current.knowledge,
        thresholds=current.thresholds(),
        now=current.clock(),
    )
    metrics.record_cards(result.topics)
    return jsonify({"cards": result.cards})
