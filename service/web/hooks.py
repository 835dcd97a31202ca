from __future__ import annotations

from flask import Blueprint, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from service.cdshooks.cards import Card
from service.cdshooks.discovery import SERVICE_ID
from service.cdshooks.envelope import load_hook_request
from service.cdshooks.json_body import parse_json_body
from service.fhir import fetcher_for
from service.ops import metrics
from service.ops.gc_pause import collection_paused
from service.ops.state import state
from service.pipeline.hook import run_hook
from service.storage.history import StoredCardHistory
from service.storage.issued import record_issued_cards
from service.web.storage import storage
from service.web.timeline import launch_url

bp = Blueprint("hooks", __name__)


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> ResponseReturnValue:
    # The request's objects must be freed before the collector resumes: _cards_for
    # returns only the cards, so its locals (the parsed request) go as it returns.
    with collection_paused():
        cards = _cards_for(service_id)
    return jsonify({"cards": cards})


def _cards_for(service_id: str) -> list[Card]:
    if service_id != SERVICE_ID:
        abort(404, description=f"No CDS service with id '{service_id[:64]}'.")
    hook_request = load_hook_request(parse_json_body(request.get_data(cache=False)))
    g.hook_instance = hook_request.hook_instance  # for the request log line
    current = state()
    thresholds = current.thresholds()
    now = current.clock()
    store = storage()
    test = current.test_patients.is_test(hook_request.patient_id)
    # Test patients are never snoozed (unless MCAS_SNOOZE_TEST_PATIENTS): the fixtures
    # give the same cards every run. Without recording there is no history to read.
    history = (
        StoredCardHistory(store, budget=_budget_seconds())
        if store.record_cards and current.test_patients.snoozable(hook_request.patient_id)
        else None
    )
    result = run_hook(
        hook_request,
        knowledge=current.knowledge,
        thresholds=thresholds,
        now=now,
        fetch_missing=fetcher_for(
            hook_request.fhir_server,
            hook_request.access_token,
            hook_request.context,
            current_app.config,
        ),
        timeline_url=launch_url(current_app.config),
        history=history,
    )
    g.card_topics = result.topics
    record_issued_cards(
        store,
        result.cards,
        hook_instance=hook_request.hook_instance,
        patient_id=hook_request.patient_id,
        issued_at=now,
        thresholds_version=thresholds.version,
        fingerprints=result.fingerprints,
        test=test,
        snoozed=[(s.topic, s.fingerprint) for s in result.snoozed],
    )
    metrics.record_cards(result.topics, test=test)
    metrics.record_snoozed([s.topic for s in result.snoozed], test=test)
    metrics.record_folded(result.folded)
    return result.cards


def _budget_seconds() -> float:
    # MCAS_SNOOZE_READ_BUDGET_MS (service/storage): read when the app was created.
    return max(1, int(current_app.config["SNOOZE_READ_BUDGET_MS"])) / 1000
