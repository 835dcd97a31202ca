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

Explain (issue 16): each rule tells the recorder the comparisons it made for a draft
(``order.<rule>.<what>``, named in docs/administration.md) and each topic's outcome for
that draft; on the hook path the recorder is ``NO_TRACE`` and every such block is behind
``if trace.enabled:``.
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
from service.pipeline.rules.timeline import ladder_therapies, present, with_courses
from service.pipeline.rules.trace import NO_TRACE, Recorder
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


def order_scope(facts: Facts, now: datetime, trace: Recorder = NO_TRACE) -> OrderScope:
    clonal = next((d for d in present(facts, now).diagnoses if d.kind == "clonal"), None)
    code = clonal.code if clonal is not None else None
    mcas = scope(facts, now).in_scope
    found = OrderScope(in_scope=mcas or clonal is not None, clonal=code)
    if trace.enabled:
        trace.observe("order_scope", found)
        trace.compare("order.scope", int(found.in_scope), "", 1, "==", found.in_scope,
                      "an MCAS diagnosis on record (docs/clinical-rules.md §1)" if mcas
                      else f"clonal mast cell disease on record ({code})" if code
                      else "no MCAS diagnosis and no clonal mast cell disease on record")
    return found


@dataclass(frozen=True)
class _Record:
    """What the rules need of the record, worked out once for every draft."""

    anaphylaxis_history: tuple[str, ...]
    prostaglandin_elevated: int  # elevated prostaglandin markers on record
    tier1_complete: bool
    evidence: bool
    omalizumab_on_record: bool
    steroid_replacement: bool
    medications_known: bool
    observations_known: bool
    # explain only (empty on the hook path): first-line classes active, decisive mediator
    # findings, omalizumab records
    counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


def _record(facts: Facts, thresholds: Thresholds, now: datetime,
            trace: Recorder = NO_TRACE) -> _Record:
    current = with_courses(present(facts, now), thresholds)
    child = current.birth_date is None or age_on(current.birth_date, now) < 18
    markers = assess_all(current.results, thresholds, adult=not child)
    tryptase = assess_tryptase(current.results, current.events, thresholds)
    evidence = objective_evidence(markers, tryptase.findings, current.events)
    all_episodes = episodes(current, thresholds)
    breathing = respiratory(current, thresholds)
    pos = position(current, all_episodes, breathing, thresholds, now)
    counts: Mapping[str, int] = MappingProxyType({})
    if trace.enabled:
        # what was read, shown as for patient-view (service/pipeline/explain.py)
        for key, value in (("present", current), ("episodes", all_episodes),
                           ("respiratory", breathing), ("position", pos), ("child", child),
                           ("mediators", markers), ("tryptase", tryptase),
                           ("evidence", evidence)):
            trace.observe(key, value)
        counts = MappingProxyType({
            "first_line": len({t.drug_class for t in ladder_therapies(current.therapies)}
                              & {"h1", "h2"}),
            "evidence": len(evidence.decisive),
            "omalizumab": sum(t.drug_class == "omalizumab" for t in current.records)
            + sum(s.drug_class == "omalizumab" for s in current.supplies),
        })
    return _Record(
        anaphylaxis_history=tuple(
            f"{e.label} ({e.code})" for e in current.events if e.kind in _HISTORY),
        prostaglandin_elevated=sum(m.elevated and m.result.prostaglandin_marker
                                   for m in markers),
        tier1_complete=pos.tier1_complete,
        evidence=evidence.found,
        omalizumab_on_record=any(t.drug_class == "omalizumab" for t in current.records)
        or any(s.drug_class == "omalizumab" for s in current.supplies),
        steroid_replacement=any(d.kind == "steroid_replacement" and d.active
                                for d in current.diagnoses),
        medications_known=not any(k in facts.unavailable for k in MEDICATION_KEYS),
        observations_known="observations" not in facts.unavailable,
        counts=counts,
    )


def _classes(draft: DraftOrder, knowledge: Knowledge) -> set[str]:
    return {knowledge.drugs.drugs[d].drug_class for d in draft.drugs}


def _fired(decision: OrderDecision, trace: Recorder) -> OrderDecision:
    if trace.enabled:
        trace.outcome(decision.topic, True, " ".join(decision.reasons),
                      draft=decision.draft.reference)
    return decision


def _not_fired(topic: str, draft: DraftOrder, why: str, trace: Recorder) -> None:
    trace.outcome(topic, False, why, draft=draft.reference)


def _trigger_decisions(draft: DraftOrder, record: _Record, knowledge: Knowledge,
                       trace: Recorder = NO_TRACE) -> list[OrderDecision]:
    found: dict[str, OrderDecision] = {}
    for key in draft.triggers:
        drug = knowledge.triggers.drugs[key]
        trigger_class = knowledge.triggers.classes[drug.trigger_class]
        topic = trigger_class.topic
        if trace.enabled:
            # the draft's ingredient is in the trigger table (its form got a card: drafts.py)
            trace.compare("order.trigger.match", 1, "trigger drugs", 1, ">=", True,
                          f"{key} ({trigger_class.label}), route {draft.route}: "
                          f"{topic}", draft=draft.reference)
        if topic in found:
            continue  # one card per topic and draft order
        reasons = [f"Ordered: {draft.words} ({trigger_class.label})."]
        if topic == "order-beta-blocker":
            history = len(record.anaphylaxis_history)
            if trace.enabled:
                trace.compare("order.beta_blocker.anaphylaxis_history", history, "records", 1,
                              ">=", history >= 1, "anaphylaxis, Z87.892 or angioedema "
                              "Conditions on record", draft=draft.reference)
            if not record.anaphylaxis_history:
                if trace.enabled:
                    _not_fired(topic, draft, "no anaphylaxis history on record", trace)
                continue
            shown = "; ".join(record.anaphylaxis_history[-3:])
            reasons.append(f"Anaphylaxis history on record: {shown}.")
        found[topic] = _fired(OrderDecision(topic, draft, {"effect": trigger_class.effect},
                                            tuple(reasons), trigger=key), trace)
    return list(found.values())


def _aspirin(draft: DraftOrder, classes: set[str], record: _Record,
             trace: Recorder = NO_TRACE) -> OrderDecision | None:
    if "aspirin" not in classes:
        return None
    if not record.observations_known:
        if trace.enabled:
            trace.compare("order.aspirin.prostaglandin_elevated", None, "results", 0, "==",
                          False, "the laboratory results could not be read: not shown",
                          draft=draft.reference)
            _not_fired("order-aspirin", draft, "the laboratory results could not be read",
                       trace)
        return None
    elevated = record.prostaglandin_elevated
    if trace.enabled:
        trace.compare("order.aspirin.prostaglandin_elevated", elevated, "results", 0, "==",
                      elevated == 0, "elevated 2,3-dinor-11beta-PGF2alpha or prostaglandin "
                      "D2 results on record", draft=draft.reference)
    if elevated:
        if trace.enabled:
            _not_fired("order-aspirin", draft,
                       "an elevated prostaglandin marker is on record", trace)
        return None
    return _fired(OrderDecision("order-aspirin", draft, {}, (
        f"Ordered: {draft.words}.",
        "No elevated prostaglandin marker (2,3-dinor-11beta-PGF2alpha or "
        "prostaglandin D2) is on record.",
    )), trace)


def _ranitidine(draft: DraftOrder, trace: Recorder = NO_TRACE) -> OrderDecision | None:
    if RANITIDINE not in draft.drugs:
        return None
    if trace.enabled:
        trace.compare("order.ranitidine.withdrawn", 1, "", 1, "==", True,
                      "ranitidine: withdrawn from the US market in 2020 (famotidine is "
                      "suggested)", draft=draft.reference)
    return _fired(OrderDecision("order-ranitidine", draft, {}, (
        f"Ordered: {draft.words}: ranitidine was withdrawn from the US market in 2020.",
    )), trace)


def _ladder_unused(draft: DraftOrder, rule: str, unit: str, threshold: int, why: str,
                   trace: Recorder) -> None:
    """A reason of order-ladder not used because the data it needs could not be had."""
    trace.compare(f"order.ladder.{rule}", None, unit, threshold, "==" if threshold == 0
                  else "<", False, why, draft=draft.reference)


def _ladder(draft: DraftOrder, classes: set[str], record: _Record, knowledge: Knowledge,
            clonal: str | None, trace: Recorder = NO_TRACE) -> OrderDecision | None:
    biologic = classes & {"omalizumab", "dupilumab"}
    if not biologic:
        return None
    if clonal is not None or draft.other_indication is not None:
        if trace.enabled:
            rule, why = (("clonal", f"clonal mast cell disease on record ({clonal})")
                         if clonal is not None else
                         ("other_indication", f"the draft's reason names another "
                                              f"indication ({draft.other_indication})"))
            trace.compare(f"order.ladder.{rule}", 1, "", 0, "==", False, why,
                          draft=draft.reference)
            _not_fired("order-ladder", draft, why, trace)
        return None
    steps = knowledge.order_cards.ladder_steps
    if "omalizumab" in classes:
        if trace.enabled:
            _omalizumab_comparisons(draft, record, trace)
        if record.medications_known and not record.tier1_complete:
            return _fired(OrderDecision(
                "order-ladder", draft, {"step": steps["tier1_incomplete"]}, (
                    f"Ordered: {draft.words}.",
                    "First line (an H1 plus an H2 antihistamine, taken regularly) is not "
                    "both active on record.",
                )), trace)
        if record.observations_known and not record.evidence:
            return _fired(OrderDecision("order-ladder", draft, {"step": steps["no_evidence"]}, (
                f"Ordered: {draft.words}.",
                "No objective evidence of mast cell mediator release is on record (an "
                "acute tryptase meeting the 20% + 2 rule, or an elevated urine or plasma "
                "marker around an episode or on two dates).",
            )), trace)
    if "dupilumab" in classes:
        if trace.enabled:
            if record.medications_known:
                count = record.counts.get("omalizumab", 0)
                trace.compare("order.ladder.no_omalizumab", count, "omalizumab records", 0,
                              "==", count == 0, "omalizumab active, stopped, completed or "
                              "given", draft=draft.reference)
            else:
                _ladder_unused(draft, "no_omalizumab", "omalizumab records", 0,
                               "a medication key could not be read: not used", trace)
        if record.medications_known and not record.omalizumab_on_record:
            return _fired(OrderDecision(
                "order-ladder", draft, {"step": steps["no_omalizumab"]}, (
                    f"Ordered: {draft.words}.",
                    "No omalizumab is on record (active, stopped, completed or given).",
                )), trace)
    if trace.enabled:
        _not_fired("order-ladder", draft, "the ladder's earlier steps are on record (or "
                   "the data they need could not be read)", trace)
    return None


def _omalizumab_comparisons(draft: DraftOrder, record: _Record, trace: Recorder) -> None:
    """The two reasons order-ladder has for an omalizumab draft, with their numbers."""
    if record.medications_known:
        first_line = record.counts.get("first_line", 0)
        trace.compare("order.ladder.tier1_incomplete", first_line, "first-line classes", 2,
                      "<", not record.tier1_complete, "an active H1 and an active H2 antihistamine",
                      draft=draft.reference)
    else:
        _ladder_unused(draft, "tier1_incomplete", "first-line classes", 2,
                       "a medication key could not be read: not used", trace)
    if record.observations_known:
        decisive = record.counts.get("evidence", 0)
        trace.compare("order.ladder.no_evidence", decisive, "findings", 0, "==",
                      not record.evidence, "an acute tryptase meeting 20% + 2, or an "
                      "elevated marker timed to an episode or on two dates",
                      draft=draft.reference)
    else:
        _ladder_unused(draft, "no_evidence", "findings", 0,
                       "the laboratory results could not be read: not used", trace)


def _steroid(draft: DraftOrder, classes: set[str], record: _Record,
             thresholds: Thresholds, trace: Recorder = NO_TRACE) -> OrderDecision | None:
    if "systemic_steroid" not in classes:
        return None
    limit = thresholds.steroid_max_days
    if draft.duration_days is None:
        if trace.enabled:
            trace.compare("order.steroid.duration", None, "d", limit, ">", False,
                          "no ordered duration (expectedSupplyDuration or boundsDuration)",
                          draft=draft.reference)
            _not_fired("order-steroid-course", draft, "no ordered duration", trace)
        return None
    if draft.steroid_replacement or record.steroid_replacement:
        if trace.enabled:
            trace.compare("order.steroid.replacement", 1, "", 0, "==", False,
                          "adrenal insufficiency or transplant status: "
                          + ("the draft's reason" if draft.steroid_replacement
                             else "an active Condition"), draft=draft.reference)
            _not_fired("order-steroid-course", draft,
                       "replacement therapy (adrenal insufficiency or transplant)", trace)
        return None
    if trace.enabled:
        trace.compare("order.steroid.duration", round(draft.duration_days, 2), "d", limit,
                      ">", draft.duration_days > limit, "the ordered duration, strictly "
                      "longer than steroid_max_days", draft=draft.reference)
    if draft.duration_days <= limit:
        if trace.enabled:
            _not_fired("order-steroid-course", draft,
                       f"{draft.duration_days:g} days: not longer than {limit}", trace)
        return None
    days = f"{draft.duration_days:g}"
    return _fired(OrderDecision(
        "order-steroid-course", draft, {"days": days, "max_days": str(limit)}, (
            f"Ordered: {draft.words}, for {days} days (longer than {limit} days).",
        )), trace)


def order_decisions(
    drafts: list[DraftOrder], facts: Facts, knowledge: Knowledge, thresholds: Thresholds,
    now: datetime, patient_scope: OrderScope, trace: Recorder = NO_TRACE,
) -> list[OrderDecision]:
    """The decisions for the judged drafts, draft by draft, in the topic order of
    docs/clinical-rules.md §7."""
    if not drafts:
        return []
    record = _record(facts, thresholds, now, trace)
    decisions: list[OrderDecision] = []
    for draft in drafts:
        classes = _classes(draft, knowledge)
        found = _trigger_decisions(draft, record, knowledge, trace)
        found += [d for d in (
            _aspirin(draft, classes, record, trace),
            _ranitidine(draft, trace),
            _ladder(draft, classes, record, knowledge, patient_scope.clonal, trace),
            _steroid(draft, classes, record, thresholds, trace),
        ) if d is not None]
        for decision in found:
            if thresholds.enabled(decision.topic):
                decisions.append(decision)
            elif trace.enabled:
                trace.outcome(decision.topic, True, "switched off in the thresholds "
                              "(cards_enabled)", draft=draft.reference, held="switched_off")
    return decisions
