"""Cards about active drugs: aspirin-caution, steroid-long-term, ranitidine-switch,
biologic-review (docs/clinical-rules.md §4, §6.9, §6.15, §6.18, §6.20).

- aspirin-caution (warning) when: aspirin is active (as needed included) and no elevated
  prostaglandin marker (2,3-dinor-11beta-PGF2alpha, prostaglandin D2) is on record. Not
  shown when the observations are unavailable. Never advises stopping cardioprotective
  aspirin without its prescriber.
- steroid-long-term (warning) when: a systemic corticosteroid has been active for more
  than steroid_max_days (from the class's earliest course start); taper, never stop
  abruptly. Not for a steroid whose reason is adrenal insufficiency or transplant status,
  and not at all with such an active Condition: replacement therapy.
- ranitidine-switch (warning) when: ranitidine is active (withdrawn from the US market in
  2020); not shown when a medication key is unavailable.
- biologic-review when: omalizumab or dupilumab is active with a judged course and its
  time on therapy lies within biologic_review_window_days (inclusive).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from service.pipeline.facts.model import Facts
from service.pipeline.rules.model import Decision, MediatorFinding, day, days_between, note
from service.pipeline.rules.timeline import class_start, has_class
from service.thresholds.model import Thresholds

RANITIDINE = "ranitidine"  # the drug of cards/drugs.yaml withdrawn from the US market
_MEDICATION_KEYS = ("medicationStatements", "medicationRequests")


def aspirin_caution(facts: Facts, mediators: tuple[MediatorFinding, ...]) -> Decision | None:
    if not has_class(facts.therapies, "aspirin") or "observations" in facts.unavailable:
        return None
    markers = tuple(m for m in mediators if m.result.prostaglandin_marker)
    if any(m.elevated for m in markers):
        return None
    aspirin = tuple(t for t in facts.therapies if t.drug_class == "aspirin")
    reason = note("aspirin.no_marker" if not markers else "aspirin.marker_not_elevated")
    return Decision(
        topic="aspirin-caution",
        notes=(note("aspirin.active", date=day(class_start(aspirin, "aspirin"))), reason),
        therapies=aspirin,
        mediators=markers,
    )


def steroid_long_term(facts: Facts, thresholds: Thresholds, now: datetime) -> Decision | None:
    if any(d.kind == "steroid_replacement" and d.active for d in facts.diagnoses):
        return None
    steroids = tuple(
        t for t in facts.therapies
        if t.drug_class == "systemic_steroid" and not t.steroid_replacement
    )
    start = class_start(steroids, "systemic_steroid")
    if start is None or now - start <= timedelta(days=thresholds.steroid_max_days):
        return None
    days = days_between(start, now)
    return Decision(
        topic="steroid-long-term",
        params={"days": str(days), "max_days": str(thresholds.steroid_max_days)},
        notes=(note("steroid.active", date=day(start), days=days,
                    max_days=thresholds.steroid_max_days),),
        therapies=steroids,
    )


def ranitidine_switch(facts: Facts) -> Decision | None:
    if any(key in facts.unavailable for key in _MEDICATION_KEYS):
        return None
    ranitidine = tuple(t for t in facts.therapies if t.drug == RANITIDINE)
    if not ranitidine:
        return None
    return Decision(
        topic="ranitidine-switch",
        notes=(note("ranitidine.active", date=day(class_start(ranitidine, "h2"))),),
        therapies=ranitidine,
    )


def biologic_review(facts: Facts, thresholds: Thresholds, now: datetime) -> Decision | None:
    low, high = thresholds.biologic_review_window_days
    due = []
    for drug_class in ("omalizumab", "dupilumab"):
        judged = [t for t in facts.therapies if t.drug_class == drug_class and t.judged]
        start = class_start(judged, drug_class)
        if start is not None and timedelta(days=low) <= now - start <= timedelta(days=high):
            due.append((drug_class, start))
    if not due:
        return None
    first_class, first_start = due[0]
    return Decision(
        topic="biologic-review",
        params={"drug": first_class.capitalize(), "days": str(days_between(first_start, now))},
        therapies=tuple(t for t in facts.therapies if t.drug_class in {c for c, _ in due}),
        notes=(
            *(note("biologic.active", drug=c.capitalize(), date=day(s),
                   days=days_between(s, now), low=low, high=high) for c, s in due),
            *(note("therapy.indication", drug=t.label or t.drug, indication=t.indication)
              for t in facts.therapies
              if t.drug_class in {c for c, _ in due} and t.indication),
        ),
    )
