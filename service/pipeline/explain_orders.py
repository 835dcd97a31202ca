"""Explain's order-time part (issue 16, docs/clinical-rules.md §7): the draft orders
judged, each topic's outcome per draft, the holds ("not twice", "tolerated before",
switched off) and the card history read, from what the order core told the recorder.

The comparisons themselves are the flat ``comparisons`` list of the answer (each names
its ``draft``); this module only turns outcomes and observations into JSON. Drafts are
named by their position in ``draftOrders`` and their ``ResourceType/id``, with the
order's own words: nothing about the patient beyond what explain already returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.cdshooks.envelope import HookRequest
from service.knowledge.model import Knowledge
from service.pipeline.orders.drafts import DraftOrder
from service.pipeline.orders.not_twice import HistoryRead
from service.pipeline.orders.rules import OrderScope
from service.pipeline.rules.trace import Outcome, Trace


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _reference(draft: dict[str, Any]) -> str:
    return f"{draft.get('resourceType')}/{draft.get('id')}"


def order_scope_read(trace: Trace) -> dict[str, Any] | None:
    found = trace.observed.get("order_scope")
    if not isinstance(found, OrderScope):
        return None
    return {"in_scope": found.in_scope, "clonal": found.clonal}


def drafts_read(request: HookRequest, trace: Trace) -> list[dict[str, Any]]:
    """Every draft order of the request, by position: judged (with what the rules read
    of it) or not, and why not."""
    judged = trace.observed.get("drafts")
    read = {d.reference: d for d in judged if isinstance(d, DraftOrder)} \
        if isinstance(judged, list) else {}
    chosen = None if request.selections is None else set(request.selections)
    excluded = {o.draft: o.why for o in trace.outcomes if o.draft and not o.fired}
    found = []
    for position, draft in enumerate(request.draft_orders, start=1):
        reference = _reference(draft)
        entry: dict[str, Any] = {"position": position, "draft": reference}
        order = read.get(reference)
        if order is not None:
            entry.update({
                "judged": True,
                "words": order.words,
                "ingredients": list(order.drugs),
                "trigger_drugs": list(order.triggers),
                "route": order.route,
                "duration_days": order.duration_days,
                "other_indication": order.other_indication,
                "replacement_therapy": order.steroid_replacement,
            })
        else:
            entry["judged"] = False
            entry["why"] = excluded.get(reference) or _not_judged(
                draft, reference, chosen, judged is not None)
        found.append(entry)
    return found


def _not_judged(draft: dict[str, Any], reference: str, chosen: set[str] | None,
                rules_ran: bool) -> str:
    if chosen is not None and reference not in chosen:
        return "not selected (order-select judges only the selected draft orders)"
    if draft.get("resourceType") != "MedicationRequest":
        return "not a MedicationRequest: only medication orders are judged"
    if draft.get("doNotPerform") is True:
        return "doNotPerform: true"
    if not rules_ran:
        return "the rules did not run (out of scope, or the request was refused)"
    return "no drug the order-time rules judge (cards/drugs.yaml, cards/triggers.yaml)"


def _per_draft(outcomes: list[Outcome], positions: dict[str, int],
               shown: set[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """topic -> one entry per draft: fired, held back (by what), shown, why."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for outcome in outcomes:
        if not outcome.draft:
            continue
        key = (outcome.topic, outcome.draft)
        entry = merged.setdefault(key, {
            "draft": outcome.draft, "position": positions.get(outcome.draft),
            "fired": False, "held_back": None, "shown": key in shown, "why": outcome.why,
        })
        if outcome.held:
            entry["held_back"] = outcome.held
            entry["why"] = outcome.why
        elif outcome.fired:
            entry["fired"] = True
            entry["why"] = outcome.why
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for (topic, _), entry in merged.items():
        by_topic.setdefault(topic, []).append(entry)
    return by_topic


def order_decisions(trace: Trace, knowledge: Knowledge, cards: list[dict[str, Any]],
                    drafts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per order-time topic, as patient-view's (topic, fired, shown, why), with
    ``drafts``: the outcome for each draft order the topic's rule judged."""
    positions = {d["draft"]: d["position"] for d in drafts}
    shown = {(c["topic"], c.get("draft", "")) for c in cards}
    per_draft = _per_draft(trace.outcomes, positions, shown)
    scope = trace.observed.get("order_scope")
    out_of_scope = isinstance(scope, OrderScope) and not scope.in_scope
    found = []
    for topic in knowledge.order_cards.topics:
        entries = per_draft.get(topic, [])
        fired = any(e["fired"] for e in entries)
        is_shown = any(c["topic"] == topic for c in cards)
        if is_shown:
            why = "; ".join(e["why"] for e in entries if e["shown"])
        elif fired:
            why = "; ".join(e["why"] for e in entries if e["held_back"])
        elif entries:
            why = "; ".join(dict.fromkeys(e["why"] for e in entries))
        elif out_of_scope:
            why = ("the order-time service does not apply: no MCAS diagnosis and no clonal "
                   "mast cell disease on record")
        else:
            why = "no judged draft order is for this rule's drugs"
        found.append({"topic": topic, "fired": fired, "shown": is_shown, "why": why,
                      "drafts": entries})
    return found


def holds(trace: Trace) -> list[dict[str, Any]]:
    """The decisions held back after their rule fired, with what held them."""
    return [{"topic": o.topic, "draft": o.draft, "held_back": o.held, "why": o.why}
            for o in trace.outcomes if o.held]


def history_read(trace: Trace) -> dict[str, Any]:
    """The card history read for "not twice" and the snooze (the hook's read)."""
    read = trace.observed.get("history")
    if not isinstance(read, HistoryRead):
        return {"read": False, "why": "no decision to hold back, so nothing was read"}
    entry: dict[str, Any] = {
        "read": read.read,
        "since": _iso(read.since),
        "answered_cards": read.answered_cards,
        "order_dedupe_minutes": read.dedupe_minutes,
        "snooze_days": read.snooze_days,
    }
    if read.unavailable:
        entry["why"] = f"the card history could not be read ({read.unavailable}): cards shown"
    elif not read.read:
        entry["why"] = ("no card history here (recording off, offline explain, or no "
                        "patient id): nothing is held back")
    return entry
