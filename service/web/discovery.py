from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from service.cdshooks.discovery import discovery_document
from service.ops.state import state
from service.pipeline.prefetch import prefetch_templates

bp = Blueprint("discovery", __name__)


@bp.get("/cds-services")
def list_services() -> ResponseReturnValue:
    return jsonify(discovery_document(dict(prefetch_templates(state().knowledge))))
