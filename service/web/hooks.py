from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from service.cdshooks.cards import Card
from service.cdshooks.discovery import ORDER_SERVICE_IDS, SERVICE_HOOKS
from service.cdshooks.envelope import HookRequest, load_hook_request
from service.cdshooks.json_body import parse_json_body
from service.fhir import fetcher_for
from service.ops import metrics
from service.ops.gc_pause import collection_paused
from service.ops.state import state
from service.pipeline.hook import HookResult, run_hook
from service.pipeline.orders import run_order_hook
from service.pipeline.rules import RULES_VERSION
from service.storage.history import StoredCardHistory
from service.storage.issued import record_issued_cards
from service.web.storage import storage
from service.web.timeline import launch_url

bp = Blueprint("hooks", __name__)


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> ResponseReturnValue:
    if service_id not in SERVICE_HOOKS:
        abort(404, description=f"No CDS service with id '{service_id[:64]}'.")
    started = time.perf_counter()
    # The request's objects must be freed before the collector resumes: _cards_for
    # returns only the cards, so its locals (the parsed request) go as it returns.
    with collection_paused():
        cards = _cards_for(service_id)
    metrics.record_hook_latency(service_id, time.perf_counter() - started)
    return jsonify({"cards": cards})


def _run(service_id: str, hook_request: HookRequest) -> HookResult:
    """The core of the service: patient-view's, or the order-time one (both hooks)."""
    current = state()
    store = storage()
    fetch_missing = fetcher_for(
        hook_request.fhir_server, hook_request.access_token, hook_request.context,
        current_app.config,
    )
    # Without recording there is no history to read. Test patients are never snoozed
    # (unless MCAS_SNOOZE_TEST_PATIENTS): the fixtures give the same cards every run.
    snoozable = current.test_patients.snoozable(hook_request.patient_id)
    history = StoredCardHistory(store, budget=_budget_seconds()) if store.record_cards else None
    if service_id in ORDER_SERVICE_IDS:
        # "Not twice" is not a snooze: it applies to test patients too.
        return run_order_hook(
            hook_request,
            knowledge=current.knowledge,
            thresholds=g.thresholds,
            now=g.now,
            fetch_missing=fetch_missing,
            history=history,
            snooze=snoozable,
        )
    return run_hook(
        hook_request,
        knowledge=current.knowledge,
        thresholds=g.thresholds,
        now=g.now,
        fetch_missing=fetch_missing,
        timeline_url=launch_url(current_app.config),
        history=history if snoozable else None,
    )


def _cards_for(service_id: str) -> list[Card]:
    hook_request = load_hook_request(
        parse_json_body(request.get_data(cache=False)), SERVICE_HOOKS[service_id]
    )
    g.hook_instance = hook_request.hook_instance  # for the request log line
    current = state()
    thresholds = g.thresholds = current.thresholds()
    now = g.now = current.clock()
    test = current.test_patients.is_test(hook_request.patient_id)
    result = _run(service_id, hook_request)
    g.card_topics = result.topics
    record_issued_cards(
        storage(),
        result.cards,
        hook_instance=hook_request.hook_instance,
        patient_id=hook_request.patient_id,
        issued_at=now,
        thresholds_version=thresholds.version,
        fingerprints=result.fingerprints,
        test=test,
        snoozed=[(s.topic, s.fingerprint, s.snooze_key) for s in result.snoozed],
        hook=hook_request.hook,
        user_id=hook_request.user_id,
        encounter_id=hook_request.encounter_id,
        orders=result.orders,
        rules_version=RULES_VERSION,
    )
    metrics.record_cards(result.topics, service=service_id, test=test)
    metrics.record_snoozed([s.topic for s in result.snoozed], test=test)
    metrics.record_folded(result.folded)
    return result.cards


def _budget_seconds() -> float:
    # MCAS_SNOOZE_READ_BUDGET_MS (service/storage): read when the app was created.
    return max(1, int(current_app.config["SNOOZE_READ_BUDGET_MS"])) / 1000
