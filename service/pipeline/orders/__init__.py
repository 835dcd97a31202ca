"""The order-time core (docs/clinical-rules.md §7): one call of mcas-order-safety-select
or mcas-order-safety-sign, from the envelope to the cards, with no Flask in it.

The record is read exactly as for patient-view (``hook.read_record``: prefetch, FHIR
fallback, facts, the 412 rules), once. Then: scope (MCAS or clonal disease on record),
the judged drafts (the request's data decides: order-select sends ``selections``, only
those are judged; order-sign judges every draft), the rules per draft, "not twice" and
the order-time snooze through the CardHistory port (the same budgeted read of answered
cards as patient-view's snoozes), and the cards. Explain passes its recorder
(``trace``): the rules, "not twice" and the snooze tell it each comparison and outcome,
per draft order; the hook's ``NO_TRACE`` hears nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.cdshooks.envelope import HookRequest
from service.errors import StorageUnavailable
from service.knowledge.model import Knowledge
from service.pipeline.hook import HookResult, OrderCardRecord, read_record, require_medications
from service.pipeline.orders.cards import order_card
from service.pipeline.orders.drafts import read_drafts
from service.pipeline.orders.not_twice import (
    HistoryRead,
    Windows,
    not_twice,
    order_fingerprint,
    snooze_key,
)
from service.pipeline.orders.rules import order_decisions, order_scope
from service.pipeline.ports import CardHistory, PastCard
from service.pipeline.prefetch import Fetcher, ResolvedPrefetch
from service.pipeline.rules.trace import NO_TRACE, Recorder
from service.thresholds.model import Thresholds

__all__ = ["run_order_hook"]

# The one order-time topic a snooze may hold back (docs/clinical-rules.md §7).
SNOOZABLE_TOPIC = "order-trigger-drug"


def _judged(request: HookRequest) -> list[dict[str, Any]]:
    """The drafts to judge: the selected ones when the request names a selection."""
    if request.selections is None:
        return list(request.draft_orders)
    chosen = set(request.selections)
    return [d for d in request.draft_orders
            if f"{d.get('resourceType')}/{d.get('id')}" in chosen]


def _by_id(prefetch: ResolvedPrefetch, kind: str) -> dict[str, dict[str, Any]]:
    return {
        r["id"]: r for resources in prefetch.resources.values() for r in resources
        if isinstance(r, dict) and r.get("resourceType") == kind and isinstance(r.get("id"), str)
    }


def run_order_hook(
    request: HookRequest,
    *,
    knowledge: Knowledge,
    thresholds: Thresholds,
    now: datetime,
    fetch_missing: Fetcher | None = None,
    history: CardHistory | None = None,
    snooze: bool = True,
    trace: Recorder = NO_TRACE,
) -> HookResult:
    """Cards for one order-select or order-sign request.

    ``history``: the past cards of the patient (None: nothing is deduplicated or snoozed);
    when it cannot be read the cards are shown and ``snooze_unavailable`` says why.
    ``snooze``: False for a test patient (MCAS_SNOOZE_TEST_PATIENTS off): "not twice"
    still applies, the "tolerated before" snooze does not.
    """
    prefetch, facts = read_record(request, knowledge, fetch_missing)
    # explain's recorder sees what was read
    trace.observe("facts", facts)
    trace.observe("unavailable", dict(prefetch.unavailable))
    patient_scope = order_scope(facts, now, trace)
    if not patient_scope.in_scope:
        return HookResult(cards=[], skipped_resources=facts.skipped_resources)
    require_medications(prefetch)
    drafts = read_drafts(_judged(request), knowledge, _by_id(prefetch, "Medication"),
                         _by_id(prefetch, "Condition"), trace)
    trace.observe("drafts", drafts)
    decisions = order_decisions(drafts, facts, knowledge, thresholds, now, patient_scope,
                                trace)
    windows = Windows(
        thresholds.order_dedupe_minutes,
        thresholds.snooze_for(SNOOZABLE_TOPIC) if snooze else 0,
    )
    past: list[PastCard] = []
    snooze_unavailable = None
    read = False
    if decisions and history is not None and request.patient_id:
        try:
            past = list(history.answered_cards(
                request.patient_id, windows.since(now), {d.topic for d in decisions},
                user_id=request.user_id,
            ))
            read = True
        except StorageUnavailable as exc:
            snooze_unavailable = str(exc)  # show the cards (docs/clinical-rules.md §7)
    if trace.enabled and decisions:
        trace.observe("history", HistoryRead(
            read, windows.since(now), len(past), windows.dedupe_minutes, windows.snooze_days,
            snooze_unavailable))
    # the history's comparisons only when it was read: otherwise none of them was made
    filtered = not_twice(decisions, past, hook=request.hook, knowledge=knowledge,
                         windows=windows, now=now, trace=trace if read else NO_TRACE)
    cards = []
    orders: dict[str, OrderCardRecord] = {}
    for decision in filtered.shown:
        card = order_card(decision, facts, knowledge, thresholds.version, request.encounter_id)
        cards.append(card)
        key = snooze_key(decision, knowledge)
        orders[card["uuid"]] = OrderCardRecord(
            decision.draft.reference, key, order_fingerprint(decision.topic, key)
        )
    return HookResult(
        cards=cards,
        unavailable=dict(prefetch.unavailable),
        skipped_resources=facts.skipped_resources,
        orders=orders,
        snooze_unavailable=snooze_unavailable,
        snoozed=filtered.snoozed,
        deduplicated=[d.topic for d in filtered.deduplicated],
    )
