"""Cards about active drugs: aspirin-caution, steroid-long-term, biologic-review.

docs/clinical-rules.md §4:

- aspirin-caution (warning) when: aspirin is active and no elevated prostaglandin marker
  (2,3-dinor-11beta-PGF2alpha, prostaglandin D2) is on record. Not shown when the
  observations are unavailable (docs/clinical-rules.md §6.9). Never advises stopping
  cardioprotective aspirin without its prescriber.
- steroid-long-term (warning) when: a systemic corticosteroid has been active for more
  than steroid_max_days (from the class's earliest start); taper, never stop abruptly.
- biologic-review when: omalizumab or dupilumab is active and its time on therapy lies
  within biologic_review_window_days (inclusive): evaluate the response at 3-6 months.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from service.pipeline.facts.model import Facts
from service.pipeline.rules.model import Decision, MediatorFinding, day, days_between
from service.pipeline.rules.timeline import class_start, has_class
from service.thresholds.model import Thresholds


def aspirin_caution(facts: Facts, mediators: tuple[MediatorFinding, ...]) -> Decision | None:
    if not has_class(facts.therapies, "aspirin") or "observations" in facts.unavailable:
        return None
    markers = tuple(m for m in mediators if m.result.prostaglandin_marker)
    if any(m.elevated for m in markers):
        return None
    aspirin = tuple(t for t in facts.therapies if t.drug_class == "aspirin")
    reason = ("No prostaglandin marker result is on record." if not markers
              else "No prostaglandin marker on record is elevated.")
    return Decision(
        topic="aspirin-caution",
        reasons=(f"Aspirin active since {day(class_start(aspirin, 'aspirin'))}.", reason),
        therapies=aspirin,
        mediators=markers,
    )


def steroid_long_term(facts: Facts, thresholds: Thresholds, now: datetime) -> Decision | None:
    start = class_start(facts.therapies, "systemic_steroid")
    if start is None or now - start <= timedelta(days=thresholds.steroid_max_days):
        return None
    days = days_between(start, now)
    return Decision(
        topic="steroid-long-term",
        params={"days": str(days), "max_days": str(thresholds.steroid_max_days)},
        reasons=(
            f"A systemic corticosteroid has been active since {day(start)} ({days} days; "
            f"the limit is {thresholds.steroid_max_days} days).",
        ),
        therapies=tuple(t for t in facts.therapies if t.drug_class == "systemic_steroid"),
    )


def biologic_review(facts: Facts, thresholds: Thresholds, now: datetime) -> Decision | None:
    low, high = thresholds.biologic_review_window_days
    due = []
    for drug_class in ("omalizumab", "dupilumab"):
        start = class_start(facts.therapies, drug_class)
        if start is not None and timedelta(days=low) <= now - start <= timedelta(days=high):
            due.append((drug_class, start))
    if not due:
        return None
    first_class, first_start = due[0]
    return Decision(
        topic="biologic-review",
        params={"drug": first_class.capitalize(), "days": str(days_between(first_start, now))},
        reasons=tuple(
            f"{c.capitalize()} active since {day(s)} ({days_between(s, now)} days; review window "
            f"{low}-{high} days)." for c, s in due
        ),
        therapies=tuple(t for t in facts.therapies if t.drug_class in {c for c, _ in due}),
    )
