from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from service.cdshooks.discovery import discovery_document
from service.ops.state import state
from service.pipeline.prefetch import prefetch_templates

bp = Blueprint("discovery", __name__)


# Also with a trailing slash, as some clients write the discovery URL: a 404 there looked
# like a service without CDS services (issue 17). One rule, no redirect; a token's `aud`
# is still the URL called.
@bp.get("/cds-services", strict_slashes=False)
def list_services() -> ResponseReturnValue:
    return jsonify(discovery_document(dict(prefetch_templates(state().knowledge))))
