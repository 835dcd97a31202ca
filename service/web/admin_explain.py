"""/admin/api/explain: why a patient got these cards, or not (issue 16).

Administrator bearer token on every route. The request is run through the same pipeline
as the hook with explain's recorder (service/pipeline/explain.py): nothing is stored, no
card is recorded, missing prefetch is not fetched from the EHR (it is reported as not
sent), and nothing of the request or the answer is logged. One audit line records that
an explain happened and who asked (the name in ``X-Admin-Name``, as the page sends it).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from service.cdshooks.envelope import CONTEXT_SCHEMAS, SUPPORTED_HOOK, load_hook_request
from service.cdshooks.json_body import parse_json_body
from service.errors import BadRequest, NotFound
from service.ops import metrics
from service.ops.request_log import quiet_logs
from service.ops.state import state
from service.pipeline.explain import explain_hook
from service.scenarios.fixtures import FixtureError, load_fixture, request_for
from service.storage.history import StoredCardHistory
from service.thresholds.preview import fixtures_dir
from service.web.admin_auth import protect_blueprint
from service.web.storage import storage

log = logging.getLogger(__name__)

bp = protect_blueprint(Blueprint("admin_explain", __name__, url_prefix="/admin/api/explain"))

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,199}")
_ADMIN_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,128}")


def _who() -> str:
    """The administrator's name for the audit line: printable, at most 128 characters."""
    name = (request.headers.get("X-Admin-Name") or "").strip()
    if not name:
        return "unnamed administrator"
    if not _ADMIN_NAME.fullmatch(name):
        raise BadRequest("X-Admin-Name: at most 128 printable characters.",
                         fields=["X-Admin-Name"])
    return name


def _explain(body: Any, source: str) -> ResponseReturnValue:
    who = _who()
    current = state()
    now = current.clock()
    try:
        # patient-view, order-select or order-sign: the request's own hook decides
        hook = body.get("hook") if isinstance(body, dict) else None
        hook_request = load_hook_request(
            body, hook if isinstance(hook, str) and hook in CONTEXT_SCHEMAS else SUPPORTED_HOOK)
    except BadRequest:
        metrics.record_explain("refused")
        raise
    store = storage()
    # The snoozes (and at order time "not twice") that apply, read (never written) as the
    # hook reads them (service/web/hooks.py): within the same budget, test patients never
    # snoozed, "not twice" for them too.
    snoozable = current.test_patients.snoozable(hook_request.patient_id)
    order_time = hook_request.hook != SUPPORTED_HOOK
    history = (
        StoredCardHistory(store, budget=_budget_seconds())
        if store.record_cards and (snoozable or order_time)
        else None
    )
    with quiet_logs():  # the pipeline's own log lines could name what was read
        answer = explain_hook(
            hook_request,
            knowledge=current.knowledge,
            thresholds=current.thresholds(),
            now=now,
            history=history,
            snooze=snoozable,
        )
    metrics.record_explain(source)
    log.info("explain called", extra={"audit": "explain", "admin": who, "reason": source})
    return jsonify(answer)


def _budget_seconds() -> float:
    # MCAS_SNOOZE_READ_BUDGET_MS, as the hook reads the card history (service/web/hooks.py)
    return max(1, int(current_app.config["SNOOZE_READ_BUDGET_MS"])) / 1000


@bp.post("")
def explain_request() -> ResponseReturnValue:
    """Explain a pasted CDS Hooks request (patient-view, order-select or order-sign)."""
    return _explain(parse_json_body(request.get_data(cache=False)), "request")


def _fixtures() -> dict[str, Any]:
    directory = fixtures_dir(current_app.config)
    if directory is None:
        return {}
    return {path.stem: path for path in sorted(directory.glob("*.json"))}


@bp.get("/fixtures")
def fixture_list() -> ResponseReturnValue:
    """The scenario fixtures explain can run, with what each one shows."""
    listed = []
    for name, path in _fixtures().items():
        try:
            fixture = load_fixture(path)
        except FixtureError:
            continue
        listed.append({"name": name, "description": fixture.description,
                       "expected_topics": sorted(fixture.expected_topics)})
    return jsonify({"fixtures": listed})


@bp.post("/fixtures/<name>")
def explain_fixture(name: str) -> ResponseReturnValue:
    """Explain a fixture fired now (its dates shifted to keep their distance to now)."""
    path = _fixtures().get(name) if _NAME.fullmatch(name) else None
    if path is None:
        raise NotFound(f"There is no scenario fixture named '{name[:80]}'.")
    try:
        fixture = load_fixture(path)
    except FixtureError as exc:
        raise NotFound(f"The fixture '{name}' cannot be read: {exc}") from None
    return _explain(request_for(fixture, state().clock()), "fixture")
