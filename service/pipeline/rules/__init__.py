"""The clinical rules (v2): pure functions of facts, thresholds and now (no Flask, no I/O).

``scope(facts, now)`` decides whether the patient is on this ladder at all;
``evaluate(facts, thresholds, now)`` returns the Decisions (one per card) in a fixed
order: the ladder card first, then the safety and quality cards in the order of
docs/clinical-rules.md section 4. Each module quotes the rule it implements.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from service.pipeline.facts.model import Facts
from service.pipeline.facts.patient import age_on
from service.pipeline.rules.drug_safety import (
    aspirin_caution,
    biologic_review,
    ranitidine_switch,
    steroid_long_term,
)
from service.pipeline.rules.episodes import episode_notes, episodes, respiratory
from service.pipeline.rules.evidence import mediator_evidence, objective_evidence
from service.pipeline.rules.ladder import position
from service.pipeline.rules.ladder_cards import LadderContext, ladder_decision
from service.pipeline.rules.mediators import assess_all
from service.pipeline.rules.model import Decision, Note, Scope, days_between, note
from service.pipeline.rules.rescue import albuterol, epinephrine
from service.pipeline.rules.scope import scope
from service.pipeline.rules.timeline import present, with_courses
from service.pipeline.rules.trace import NO_TRACE, Recorder
from service.pipeline.rules.tryptase import assess_tryptase
from service.thresholds.model import Thresholds

__all__ = ["RULES_VERSION", "Decision", "Scope", "evaluate", "scope"]

RULES_VERSION = "2"

# Cards allowed when no MCAS diagnosis is confirmed (docs/clinical-rules.md §1, §6.12).
UNCONFIRMED_ALLOWED = frozenset(
    {"tier-1", "mediator-evidence", "epinephrine-autoinjector", "albuterol",
     "aspirin-caution", "steroid-long-term", "ranitidine-switch"}
)
# Treatment cards: not shown with clonal mast cell disease on record (docs/clinical-rules.md §1).
TREATMENT_TOPICS = frozenset(
    {"tier-1", "tier-2", "confirm-before-biologic", "tier-3", "omalizumab-dose", "tier-4",
     "specialist-referral", "mediator-evidence", "biologic-review"}
)


def _patient_notes(facts: Facts, now: datetime, patient_scope: Scope,
                   pregnant: bool) -> tuple[bool, list[Note]]:
    """(child, notes): under 18 on the evaluation date, or age unknown.

    docs/clinical-rules.md §2 "Patient facts", §6.26.
    """
    notes: list[Note] = []
    if facts.birth_date is None:
        child = True
        notes.append(note("patient.age_unknown"))
    else:
        age = age_on(facts.birth_date, now)
        child = age < 18
        if child:
            notes.append(note("patient.child", age=max(age, 0)))
    if pregnant:
        notes.append(note("patient.pregnant"))
    if patient_scope.monoclonal:
        notes.append(note("patient.monoclonal"))
    return child, notes


def evaluate(facts: Facts, thresholds: Thresholds, now: datetime,
             trace: Recorder = NO_TRACE) -> list[Decision]:
    """The decisions; ``trace`` hears every comparison made (explain), never changes one."""
    patient_scope = scope(facts, now)
    trace.observe("scope", patient_scope)
    if not patient_scope.in_scope:
        return []
    current = with_courses(present(facts, now), thresholds)
    all_episodes = episodes(current, thresholds)
    breathing = respiratory(current, thresholds)
    pos = position(current, all_episodes, breathing, thresholds, now, trace)
    pregnant = any(d.kind == "pregnancy" and d.active for d in current.diagnoses)
    child, patient_notes = _patient_notes(current, now, patient_scope, pregnant)
    markers = assess_all(current.results, thresholds, adult=not child, trace=trace)
    tryptase = assess_tryptase(current.results, current.events, thresholds, trace)
    evidence = objective_evidence(markers, tryptase.findings, current.events)
    trace.compare("evidence.objective", len(evidence.decisive), "findings", 1, ">=",
                  evidence.found, "elevated tryptase by 20% + 2, or a marker timed to an "
                  "episode or elevated on 2 dates")
    mediator_notes = [*tryptase.notes]
    if child and any(not r.tryptase for r in current.results):
        mediator_notes.insert(0, note("mediator.child_lab_range"))
    tier_days = days_between(pos.tier_start, now) if pos.tier_start is not None else None
    context = LadderContext(
        confirmed=patient_scope.confirmed,
        clonal=patient_scope.clonal is not None,
        evidence=evidence,
        mediators=markers,
        child=child,
        pregnant=pregnant,
        monoclonal=patient_scope.monoclonal,
        sm_flag=tryptase.sm_flag,
        breathing=breathing,
        episode_notes=tuple(episode_notes(all_episodes, current, thresholds)),
        patient_notes=tuple(patient_notes),
        thresholds=thresholds,
        now=now,
    )
    if trace.enabled:
        for key, value in (("present", current), ("episodes", all_episodes),
                           ("respiratory", breathing), ("position", pos), ("child", child),
                           ("mediators", markers), ("tryptase", tryptase),
                           ("evidence", evidence)):
            trace.observe(key, value)
    ladder = ladder_decision(current, pos, context, tier_days, trace)
    if ladder is not None and ladder.topic != "tier-1":
        ladder = replace(ladder, notes=(*ladder.notes, *mediator_notes))
    candidates = [
        ladder,
        epinephrine(current, trace),
        albuterol(current, thresholds, now, trace),
        aspirin_caution(current, markers, trace),
        steroid_long_term(current, thresholds, now, trace),
        ranitidine_switch(current, trace),
        mediator_evidence(current, evidence, markers + tryptase.findings,
                          tuple(mediator_notes)),
        biologic_review(current, thresholds, now, trace),
    ]
    clonal_notes: tuple[Note, ...] = ()
    if patient_scope.clonal is not None:
        clonal_notes = (note("clonal", code=patient_scope.clonal),)
    if trace.enabled:
        for d in candidates:
            if d is not None:
                held = _held_back(d.topic, thresholds, patient_scope)
                trace.outcome(d.topic, held is None, held or "its rule fired")
    return [
        replace(d, notes=(*clonal_notes, *d.notes)) if clonal_notes else d
        for d in candidates
        if d is not None and thresholds.enabled(d.topic)
        and (patient_scope.confirmed or d.topic in UNCONFIRMED_ALLOWED)
        and not (patient_scope.clonal is not None and d.topic in TREATMENT_TOPICS)
    ]


def _held_back(topic: str, thresholds: Thresholds, patient_scope: Scope) -> str | None:
    """Why a decision that fired is not shown (explain only); the filter above decides."""
    if not thresholds.enabled(topic):
        return "switched off in the thresholds (cards_enabled)"
    if not patient_scope.confirmed and topic not in UNCONFIRMED_ALLOWED:
        return "no confirmed MCAS diagnosis: only first-line and safety cards are shown"
    if patient_scope.clonal is not None and topic in TREATMENT_TOPICS:
        return f"clonal mast cell disease on record ({patient_scope.clonal}): no treatment card"
    return None
