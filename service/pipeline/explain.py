"""Why a patient got these cards (or not): one hook call run with a ``Trace`` (issue 16).

``explain_hook`` runs the same ``run_hook`` as the hook, with explain's recorder instead
of the no-op one, and turns what the recorder heard into plain JSON: what was read, each
comparison the rules made with its numbers, each card's decision, the cards. Nothing
here stores or logs anything; the caller (the administrators' API, ``mcas-cds explain``)
records only that an explain happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from service.cdshooks.envelope import SUPPORTED_HOOK, HookRequest
from service.errors import ServiceError
from service.knowledge.model import Knowledge
from service.pipeline.card_detail import sentence
from service.pipeline.explain_orders import (
    drafts_read,
    history_read,
    holds,
    order_decisions,
    order_scope_read,
)
from service.pipeline.facts.model import Event, Facts, Result, Therapy
from service.pipeline.hook import run_hook
from service.pipeline.orders import run_order_hook
from service.pipeline.orders.cards import DRAFT_ORDER_EXTENSION
from service.pipeline.ports import CardHistory
from service.pipeline.prefetch import Fetcher
from service.pipeline.rules.episodes import Episode, Respiratory
from service.pipeline.rules.ladder import Position
from service.pipeline.rules.model import Cluster, MediatorFinding, Scope
from service.pipeline.rules.trace import Trace
from service.pipeline.rules.tryptase import TryptaseReading
from service.thresholds.model import Thresholds


def explain_hook(
    request: HookRequest,
    *,
    knowledge: Knowledge,
    thresholds: Thresholds,
    now: datetime,
    fetch_missing: Fetcher | None = None,
    history: CardHistory | None = None,
    snooze: bool = True,
) -> dict[str, Any]:
    """Everything explain answers for one request (JSON-ready). ``history``: the
    patient's past cards, so the snoozes that apply are shown (read only).
    ``snooze``: order time, as the hook's (False: a test patient, only "not twice")."""
    trace = Trace()
    body: dict[str, Any] = {
        "hook": request.hook,
        "evaluated_at": _iso(now),
        "thresholds_version": thresholds.version,
    }
    try:
        if request.hook == SUPPORTED_HOOK:
            result = run_hook(request, knowledge=knowledge, thresholds=thresholds, now=now,
                              fetch_missing=fetch_missing, history=history, trace=trace)
        else:
            # order-select / order-sign: the order core, reading the record the same way;
            # its rules tell the recorder each comparison per draft order.
            result = run_order_hook(request, knowledge=knowledge, thresholds=thresholds,
                                    now=now, fetch_missing=fetch_missing, history=history,
                                    snooze=snooze, trace=trace)
    except ServiceError as exc:
        # The hook would refuse this request: say so with the reason, and what was read.
        body["refused"] = {"status": exc.status, "reasons": list(exc.messages)}
        body["cards"] = []
        body["snoozes"] = []
        held: dict[str, str] = {}
    else:
        body["snoozes"] = [
            {"topic": s.topic, "until": _iso(s.until), "overridden_card": s.overridden_card,
             **({"snooze_key": s.snooze_key} if s.snooze_key else {})}
            for s in result.snoozed
        ]
        if result.snooze_unavailable:
            body["snooze_unavailable"] = result.snooze_unavailable
        held = {s.topic: f"snoozed until {_iso(s.until)}: a clinician overrode the same card "
                         f"({s.overridden_card}) and its facts have not changed"
                for s in result.snoozed}
        body["cards"] = [_card(card) for card in result.cards]
    body["read"] = _read(trace, knowledge)
    body["comparisons"] = [c.as_dict() for c in trace.comparisons]
    if request.hook == SUPPORTED_HOOK:
        body["decisions"] = _decisions(trace, knowledge, [c["topic"] for c in body["cards"]],
                                       held)
    else:
        # Order time (docs/clinical-rules.md §7): each decision per draft order judged,
        # what held any back, and the card history read for that.
        scope = order_scope_read(trace)
        if scope is not None:
            body["read"]["scope"] = scope
        body["read"]["drafts"] = drafts_read(request, trace)
        body["decisions"] = order_decisions(trace, knowledge, body["cards"],
                                            body["read"]["drafts"])
        body["held_back"] = holds(trace)
        body["history"] = history_read(trace)
    return body


def _card(card: Any) -> dict[str, Any]:
    entry = {"topic": card["source"]["topic"]["code"], "summary": card["summary"],
             "indicator": card["indicator"]}
    draft = card.get("extension", {}).get(DRAFT_ORDER_EXTENSION)
    if draft:  # an order-time card: the draft order it judged
        entry["draft"] = draft
    return entry


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _read(trace: Trace, knowledge: Knowledge) -> dict[str, Any]:
    observed = trace.observed
    facts = observed.get("facts")
    present = observed.get("present")
    read: dict[str, Any] = {}
    if not isinstance(facts, Facts):
        return read
    patient_scope = observed.get("scope")
    if isinstance(patient_scope, Scope):
        read["scope"] = {
            "in_scope": patient_scope.in_scope,
            "confirmed": patient_scope.confirmed,
            "clonal": patient_scope.clonal,
            "monoclonal": patient_scope.monoclonal,
        }
    read["diagnoses"] = [
        {"kind": d.kind, "code": d.code, "label": d.label, "active": d.active,
         "confirmed": d.confirmed, "date": _iso(d.when)}
        for d in facts.diagnoses
    ]
    read["birth_date"] = facts.birth_date.isoformat() if facts.birth_date else None
    if isinstance(observed.get("child"), bool):
        read["child"] = observed["child"]
    shown = present.therapies if isinstance(present, Facts) else facts.therapies
    read["therapies"] = [_therapy(t, knowledge) for t in shown]
    episodes = observed.get("episodes")
    position = observed.get("position")
    if isinstance(episodes, tuple):
        counted = position.episodes if isinstance(position, Position) else ()
        read["episodes"] = [_episode(e, counted) for e in episodes if isinstance(e, Episode)]
    if isinstance(position, Position):
        read["ladder"] = {
            "current_tier": position.current_tier,
            "tier1_complete": position.tier1_complete,
            "tier_start": _iso(position.tier_start),
            "trial_met": position.trial_met,
            "refractory": position.refractory,
            "judged": position.judged,
            "episodes_before_response_onset": [_iso(e.start) for e in position.early],
            "recent_event_missing": position.recent_missing,
        }
    breathing = observed.get("respiratory")
    if isinstance(breathing, Respiratory):
        counted_breaths = position.respiratory if isinstance(position, Position) else ()
        read["respiratory"] = {
            "counts_toward_refractory": breathing.counts,
            "airway_disease": breathing.airway_disease,
            "dyspnoea_records": breathing.dyspnoea,
            "events": [
                {**_cluster(c), "counted": c in counted_breaths} for c in breathing.clusters
            ],
        }
    markers = observed.get("mediators")
    if isinstance(markers, tuple):
        read["mediators"] = [_finding(m) for m in markers if isinstance(m, MediatorFinding)]
    tryptase = observed.get("tryptase")
    if isinstance(tryptase, TryptaseReading):
        read["tryptase"] = {
            "results": [_result(r) for r in tryptase.results],
            "roles": [sentence(n, knowledge) for n in tryptase.notes],
            "pairs": [
                {"acute": _result(f.result),
                 "baseline": _result(f.baseline) if f.baseline else None,
                 "elevated": f.elevated, "reason": f.reason}
                for f in tryptase.findings
            ],
            "systemic_mastocytosis_flag": tryptase.sm_flag,
        }
    elif facts.results:
        read["tryptase"] = {"results": [_result(r) for r in facts.results if r.tryptase]}
    read["events"] = [_event(e) for e in facts.events if e.kind not in {"anaphylaxis"}]
    read["unreadable"] = {
        "unavailable": dict(facts.unavailable),
        "resources": [
            {"resource_type": kind, "problem": problem, "count": count}
            for (kind, problem), count in sorted(facts.reading.items())
        ],
        "unclear_products": [{"name": n, "may_be": c} for n, c in facts.unclear],
    }
    return read


def _therapy(therapy: Therapy, knowledge: Knowledge) -> dict[str, Any]:
    if therapy.start is None:
        dated_by = "undated: it never satisfies a trial duration"
    elif therapy.supplied:
        dated_by = ("course start: the earliest of the chain of administrations, dispenses "
                    "and its own date")
    elif therapy.source == "MedicationRequest":
        dated_by = "its order date (no administration or dispense on record)"
    else:
        dated_by = "the statement's own date"
    drug_class = knowledge.drugs.classes.get(therapy.drug_class)
    return {
        "drug": therapy.drug,
        "label": therapy.label,
        "class": therapy.drug_class,
        "class_label": drug_class.label if drug_class is not None else therapy.drug_class,
        "tier": therapy.tier,
        "source": therapy.source,
        "start": _iso(therapy.start),
        "dated_by": dated_by,
        "as_needed": therapy.as_needed,
        "judged_course": therapy.judged,
        "dose_mg_per_4_weeks": therapy.dose_mg_per_4_weeks,
    }


def _cluster(cluster: Cluster) -> dict[str, Any]:
    return {
        "start": _iso(cluster.start),
        "records": [{"code": e.code, "label": e.label, "date": _iso(e.when)}
                    for e in cluster.events],
        "merged": [{"date": _iso(e.when), "how": how} for e, how in cluster.merges],
    }


def _episode(episode: Episode, counted: Iterable[Episode]) -> dict[str, Any]:
    inside = episode in tuple(counted)
    if not episode.confirmed:
        why = "suspected only: suspected episodes never count"
    elif not episode.counted:
        why = f"triggered ({episode.trigger or 'a named trigger'}): only unexplained ones count"
    elif not inside:
        why = ("counts, but is outside the ladder's windows (before the response onset of "
               "the current tier, or outside the lookback)")
    else:
        why = ("unexplained: counted" if episode.unexplained
               else "triggered, counted (count_triggered_anaphylaxis is on)")
    return {**_cluster(episode.cluster), "unexplained": episode.unexplained,
            "counted_toward_refractory": inside, "why": why}


def _result(result: Result) -> dict[str, Any]:
    normalised = (result.raw_unit is not None and result.unit is not None
                  and (result.raw_unit != result.unit or result.raw_value != result.value))
    return {
        "analyte": result.analyte,
        "display": result.display,
        "loinc": result.loinc,
        "value": result.value,
        "unit": result.unit,
        "comparator": result.comparator,
        "as_sent": {"value": result.raw_value, "unit": result.raw_unit},
        "normalised": normalised,
        "expected_unit": result.expected_unit,
        "date": _iso(result.when),
        "interpretation": sorted(result.interpretation),
        "reference_high": result.reference_high,
    }


def _finding(finding: MediatorFinding) -> dict[str, Any]:
    return {**_result(finding.result), "elevated": finding.elevated,
            "assessable": finding.assessable, "reason": finding.reason}


def _event(event: Event) -> dict[str, Any]:
    return {"kind": event.kind, "code": event.code, "label": event.label,
            "date": _iso(event.when), "suspected": event.suspected}


def _decisions(trace: Trace, knowledge: Knowledge, cards: list[str],
               held_after_rules: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One entry per topic: fired and shown, fired and held back (why), or not fired.

    ``held_after_rules``: topics the hook held back after the rules decided (snoozed), why.
    """
    held_after_rules = held_after_rules or {}
    decided = {o.topic: o for o in trace.outcomes}
    found = []
    for topic in knowledge.cards.topics:
        outcome = decided.get(topic)
        if outcome is not None:
            why = outcome.why
            if outcome.fired and topic not in cards:
                # decided, then not shown on its own: after the rules (a snooze, or folded
                # into another card)
                why = held_after_rules.get(topic, "its rule fired, but it is not shown as "
                                                  "a card of its own")
            found.append({"topic": topic, "fired": True, "shown": topic in cards,
                          "why": why})
        else:
            found.append({"topic": topic, "fired": False, "shown": topic in cards,
                          "why": "its conditions were not met (see comparisons and read)"})
    return found

