"""The order-time rules (docs/clinical-rules.md §7): pure functions of the draft orders,
the facts, the thresholds and now. One decision per draft order and topic.

- Scope: an MCAS Condition section 1 accepts (any verificationStatus but entered-in-error
  or refuted), or clonal mast cell disease on record; with clonal disease, never
  order-ladder.
- order-trigger-drug (warning; celecoxib info) when a draft is for a trigger drug of
  cards/triggers.yaml (a topical NSAID or oral vancomycin gets none: drafts.py).
- order-beta-blocker (warning) when a draft is for a beta-blocker and the patient has
  anaphylaxis history (any anaphylaxis Condition, Z87.892, angioedema).
- order-aspirin (warning) when a draft is for aspirin and no prostaglandin marker on
  record is elevated; not shown when the laboratory results are unavailable.
- order-ranitidine (warning) when a draft is for ranitidine.
- order-ladder (info) when a draft is for omalizumab and tier 1 is not complete or no
  objective mediator evidence is on record, or for dupilumab and no omalizumab is on
  record; not when the draft's reason names another indication
  (docs/clinical-rules.md §6.27). Each reason is used only when the data it needs could be
  had (docs/clinical-rules.md §6.9): the tier and "on record" need both
  medication keys, "no mediator evidence" needs the laboratory results.
- order-steroid-course (warning) when a draft is for a systemic steroid ordered for more
  than steroid_max_days (strictly; a month is 30 days), unless the draft's reason or an
  active Condition is adrenal insufficiency or transplant status
  (docs/clinical-rules.md §6.25).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from service.knowledge.model import Knowledge
from service.pipeline.facts.model import Facts
from service.pipeline.facts.patient import age_on
from service.pipeline.orders.drafts import DraftOrder
from service.pipeline.rules.episodes import episodes, respiratory
from service.pipeline.rules.evidence import objective_evidence
from service.pipeline.rules.ladder import position
from service.pipeline.rules.mediators import assess_all
from service.pipeline.rules.scope import scope
from service.pipeline.rules.timeline import present, with_courses
from service.pipeline.rules.tryptase import assess_tryptase
from service.thresholds.model import Thresholds

MEDICATION_KEYS = ("medicationStatements", "medicationRequests")
_HISTORY = ("anaphylaxis", "anaphylaxis_follow_up", "anaphylaxis_history", "angioedema",
            "history")
RANITIDINE = "ranitidine"


@dataclass(frozen=True)
class OrderScope:
    in_scope: bool
    clonal: str | None = None  # the code of clonal mast cell disease on record


@dataclass(frozen=True)
class OrderDecision:
    topic: str
    draft: DraftOrder
    # values for the summary template ({effect}, {step}, {days}, {max_days})
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    reasons: tuple[str, ...] = ()  # plain sentences: why the card fired, with facts
    trigger: str | None = None  # the trigger drug (cards/triggers.yaml) behind the card


def order_scope(facts: Facts, now: datetime) -> OrderScope:
    clonal = next((d for d in present(facts, now).diagnoses if d.kind == "clonal"), None)
    code = clonal.code if clonal is not None else None
    return OrderScope(in_scope=scope(facts, now).in_scope or clonal is not None, clonal=code)


@dataclass(frozen=True)
class _Record:
    """What the rules need of the record, worked out once for every draft."""

    anaphylaxis_history: tuple[str, ...]
    prostaglandin_elevated: bool
    tier1_complete: bool
    evidence: bool
    omalizumab_on_record: bool
    steroid_replacement: bool
    medications_known: bool
    observations_known: bool


def _record(facts: Facts, thresholds: Thresholds, now: datetime) -> _Record:
    current = with_courses(present(facts, now), thresholds)
    child = current.birth_date is None or age_on(current.birth_date, now) < 18
    markers = assess_all(current.results, thresholds, adult=not child)
    tryptase = assess_tryptase(current.results, current.events, thresholds)
    evidence = objective_evidence(markers, tryptase.findings, current.events)
    pos = position(current, episodes(current, thresholds), respiratory(current, thresholds),
                   thresholds, now)
    return _Record(
        anaphylaxis_history=tuple(
            f"{e.label} ({e.code})" for e in current.events if e.kind in _HISTORY),
        prostaglandin_elevated=any(m.elevated and m.result.prostaglandin_marker
                                   for m in markers),
        tier1_complete=pos.tier1_complete,
        evidence=evidence.found,
        omalizumab_on_record=any(t.drug_class == "omalizumab" for t in current.records)
        or any(s.drug_class == "omalizumab" for s in current.supplies),
        steroid_replacement=any(d.kind == "steroid_replacement" and d.active
                                for d in current.diagnoses),
        medications_known=not any(k in facts.unavailable for k in MEDICATION_KEYS),
        observations_known="observations" not in facts.unavailable,
    )


def _classes(draft: DraftOrder, knowledge: Knowledge) -> set[str]:
    return {knowledge.drugs.drugs[d].drug_class for d in draft.drugs}


def _trigger_decisions(draft: DraftOrder, record: _Record,
                       knowledge: Knowledge) -> list[OrderDecision]:
    found: dict[str, OrderDecision] = {}
    for key in draft.triggers:
        drug = knowledge.triggers.drugs[key]
        trigger_class = knowledge.triggers.classes[drug.trigger_class]
        topic = trigger_class.topic
        if topic in found:
            continue  # one card per topic and draft order
        reasons = [f"Ordered: {draft.words} ({trigger_class.label})."]
        if topic == "order-beta-blocker":
            if not record.anaphylaxis_history:
                continue
            shown = "; ".join(record.anaphylaxis_history[-3:])
            reasons.append(f"Anaphylaxis history on record: {shown}.")
        found[topic] = OrderDecision(topic, draft, {"effect": trigger_class.effect},
                                     tuple(reasons), trigger=key)
    return list(found.values())


def _ladder(draft: DraftOrder, classes: set[str], record: _Record, knowledge: Knowledge,
            clonal: bool) -> OrderDecision | None:
    if clonal or draft.other_indication is not None:
        return None
    steps = knowledge.order_cards.ladder_steps
    if "omalizumab" in classes:
        if record.medications_known and not record.tier1_complete:
            return OrderDecision("order-ladder", draft, {"step": steps["tier1_incomplete"]}, (
                f"Ordered: {draft.words}.",
                "First line (an H1 plus an H2 antihistamine, taken regularly) is not both "
                "active on record.",
            ))
        if record.observations_known and not record.evidence:
            return OrderDecision("order-ladder", draft, {"step": steps["no_evidence"]}, (
                f"Ordered: {draft.words}.",
                "No objective evidence of mast cell mediator release is on record (an "
                "acute tryptase meeting the 20% + 2 rule, or an elevated urine or plasma "
                "marker around an episode or on two dates).",
            ))
    if "dupilumab" in classes and record.medications_known and not record.omalizumab_on_record:
        return OrderDecision("order-ladder", draft, {"step": steps["no_omalizumab"]}, (
            f"Ordered: {draft.words}.",
            "No omalizumab is on record (active, stopped, completed or given).",
        ))
    return None


def _steroid(draft: DraftOrder, classes: set[str], record: _Record,
             thresholds: Thresholds) -> OrderDecision | None:
    if "systemic_steroid" not in classes or draft.duration_days is None:
        return None
    if draft.steroid_replacement or record.steroid_replacement:
        return None
    limit = thresholds.steroid_max_days
    if draft.duration_days <= limit:
        return None
    days = f"{draft.duration_days:g}"
    return OrderDecision("order-steroid-course", draft, {"days": days, "max_days": str(limit)}, (
        f"Ordered: {draft.words}, for {days} days (longer than {limit} days).",
    ))


def order_decisions(
    drafts: list[DraftOrder], facts: Facts, knowledge: Knowledge, thresholds: Thresholds,
    now: datetime, patient_scope: OrderScope,
) -> list[OrderDecision]:
    """The decisions for the judged drafts, draft by draft, in the topic order of
    docs/clinical-rules.md §7."""
    if not drafts:
        return []
    record = _record(facts, thresholds, now)
    decisions: list[OrderDecision] = []
    for draft in drafts:
        classes = _classes(draft, knowledge)
        found = _trigger_decisions(draft, record, knowledge)
        if "aspirin" in classes and record.observations_known \
                and not record.prostaglandin_elevated:
            found.append(OrderDecision("order-aspirin", draft, {}, (
                f"Ordered: {draft.words}.",
                "No elevated prostaglandin marker (2,3-dinor-11beta-PGF2alpha or "
                "prostaglandin D2) is on record.",
            )))
        if RANITIDINE in draft.drugs:
            found.append(OrderDecision("order-ranitidine", draft, {}, (
                f"Ordered: {draft.words}: ranitidine was withdrawn from the US market in 2020.",
            )))
        ladder = _ladder(draft, classes, record, knowledge, patient_scope.clonal is not None)
        steroid = _steroid(draft, classes, record, thresholds)
        found += [d for d in (ladder, steroid) if d is not None]
        decisions += [d for d in found if thresholds.enabled(d.topic)]
    return decisions
