"""The clinical rules: pure functions of facts, thresholds and now (no Flask, no I/O).

``scope(facts, now)`` decides whether the patient is on this ladder at all;
``evaluate(facts, thresholds, now)`` returns the Decisions (one per card) in a fixed
order: the ladder card first, then the safety and quality cards in the order of
docs/clinical-rules.md §4. Each module quotes the rule it implements.
"""

from __future__ import annotations

from datetime import datetime

from service.pipeline.facts.model import Facts
from service.pipeline.rules.drug_safety import aspirin_caution, biologic_review, steroid_long_term
from service.pipeline.rules.evidence import mediator_evidence
from service.pipeline.rules.ladder import position
from service.pipeline.rules.ladder_cards import ladder_decision
from service.pipeline.rules.mediators import assess_all
from service.pipeline.rules.model import Decision, Scope, days_between
from service.pipeline.rules.rescue import albuterol, epinephrine
from service.pipeline.rules.scope import scope
from service.pipeline.rules.timeline import clusters, present
from service.pipeline.rules.tryptase import assess_tryptase
from service.thresholds.model import Thresholds

__all__ = ["Decision", "Scope", "evaluate", "scope"]

# Cards allowed when no MCAS diagnosis is confirmed (docs/clinical-rules.md §1, §6.12).
UNCONFIRMED_ALLOWED = frozenset(
    {"tier-1", "mediator-evidence", "epinephrine-autoinjector", "albuterol",
     "aspirin-caution", "steroid-long-term"}
)


def evaluate(facts: Facts, thresholds: Thresholds, now: datetime) -> list[Decision]:
    patient_scope = scope(facts, now)
    if not patient_scope.in_scope:
        return []
    current = present(facts, now)
    pos = position(current, thresholds, now)
    episodes = clusters(
        (e for e in current.events if e.kind == "anaphylaxis"), thresholds.episode_merge_hours
    )
    findings = assess_all(current.results, thresholds) + assess_tryptase(
        current.results, episodes, thresholds
    )
    tier_days = days_between(pos.tier_start, now) if pos.tier_start is not None else None
    minimums = (
        thresholds.min_trial_days.get(pos.current_tier, 0),
        thresholds.min_anaphylaxis_episodes,
        thresholds.min_respiratory_events,
    )
    candidates = [
        ladder_decision(current, pos, confirmed=patient_scope.confirmed, now_days=tier_days,
                        mediators=findings, minimums=minimums),
        epinephrine(current),
        albuterol(current, thresholds, now),
        aspirin_caution(current, findings),
        steroid_long_term(current, thresholds, now),
        mediator_evidence(current, findings),
        biologic_review(current, thresholds, now),
    ]
    return [
        d for d in candidates
        if d is not None and thresholds.enabled(d.topic)
        and (patient_scope.confirmed or d.topic in UNCONFIRMED_ALLOWED)
    ]
