"""Time handling shared by the rules.

docs/clinical-rules.md §2, §6.2, §6.4, §6.10, §6.11, §6.17. "Now" is the evaluation
instant. Every fact dated after now is ignored entirely (clonal disease excepted); a fact
without a date is present but never satisfies a duration or window. Bounds are inclusive.

- **Present**: the facts without anything dated after now, and without therapies whose
  period ended before now.
- **Course**: a therapy's start is the earliest date of the chain of that drug's
  completed administrations and dispenses and the therapy's own date that ends at the
  most recent of them, each at most ``course_gap_days`` after the one before. An
  omalizumab or dupilumab that is only a MedicationRequest with no completed
  administration or dispense has no judged course.
- **Clusters**: sorted events; an event at most ``episode_merge_hours`` after the
  previous one joins its cluster; two date-only events on consecutive dates join; an
  anaphylaxis dated only by its recorded date joins the cluster before it within
  ``episode_followup_days`` of that cluster's first event. A cluster is dated by its
  first event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from service.pipeline.facts.model import Event, Facts, Therapy
from service.pipeline.rules.model import Cluster
from service.thresholds.model import Thresholds

BIOLOGICS = frozenset({"omalizumab", "dupilumab"})


def _not_future(moment: datetime | None, now: datetime) -> bool:
    return moment is None or moment <= now


def present(facts: Facts, now: datetime) -> Facts:
    """The facts without anything dated after now (and without ended therapies)."""
    return replace(
        facts,
        diagnoses=tuple(
            d for d in facts.diagnoses if d.kind == "clonal" or _not_future(d.when, now)
        ),
        events=tuple(e for e in facts.events if _not_future(e.when, now)),
        therapies=tuple(
            t for t in facts.therapies
            if _not_future(t.start, now) and (t.ended is None or t.ended >= now)
        ),
        records=tuple(t for t in facts.records if _not_future(t.start, now)),
        supplies=tuple(s for s in facts.supplies if _not_future(s.when, now)),
        results=tuple(r for r in facts.results if _not_future(r.when, now)),
    )


def with_courses(facts: Facts, thresholds: Thresholds) -> Facts:
    """Each active therapy's start replaced by the start of its current course.

    Call on ``present`` facts: supplies and therapies after now are already gone.
    """
    gap = timedelta(days=thresholds.course_gap_days)
    by_drug: dict[str, list[datetime]] = {}
    for supply in facts.supplies:
        if supply.when is not None:
            by_drug.setdefault(supply.drug, []).append(supply.when)

    def course(therapy: Therapy) -> Therapy:
        supplied = by_drug.get(therapy.drug, [])
        points = sorted([*supplied, *([therapy.ordered_on] if therapy.ordered_on else [])])
        start = points[-1] if points else None
        for earlier in reversed(points[:-1]):
            if start is not None and start - earlier <= gap:
                start = earlier
            else:
                break
        judged = bool(supplied) or therapy.source != "MedicationRequest" \
            or therapy.drug_class not in BIOLOGICS
        return replace(therapy, start=start, judged=judged, supplied=bool(supplied))

    return replace(facts, therapies=tuple(course(t) for t in facts.therapies))


def dated(events: Iterable[Event]) -> list[tuple[datetime, Event]]:
    """The events that carry a date, oldest first, with that date."""
    return sorted(((e.when, e) for e in events if e.when is not None), key=lambda pair: pair[0])


def clusters(
    events: Iterable[Event], merge_hours: float, followup_days: int | None = None
) -> tuple[Cluster, ...]:
    gap = timedelta(hours=merge_hours)
    follow_up = timedelta(days=followup_days) if followup_days is not None else None
    found: list[tuple[datetime, list[Event], list[tuple[Event, str]]]] = []
    previous: Event | None = None
    for when, event in dated(events):
        how: str | None = None
        if found and previous is not None and previous.when is not None:
            start = found[-1][0]
            if when - previous.when <= gap:
                how = "window"
            elif (event.date_only and previous.date_only
                  and (when.date() - previous.when.date()).days == 1):
                how = "next_day"
            elif follow_up is not None and event.recorded_only and when - start <= follow_up:
                how = "follow_up"
        if how is None:
            found.append((when, [event], []))
        else:
            found[-1][1].append(event)
            if how != "window":
                found[-1][2].append((event, how))
        previous = event
    return tuple(
        Cluster(start=start, events=tuple(members), merges=tuple(merges))
        for start, members, merges in found
    )


def lookback_start(now: datetime, lookback_days: int) -> datetime:
    return now - timedelta(days=lookback_days)


def counted(
    found: Iterable[Cluster], since: datetime, lookback_from: datetime
) -> tuple[Cluster, ...]:
    """Clusters whose first event is on or after `since` and inside the lookback."""
    return tuple(c for c in found if c.start >= since and c.start >= lookback_from)


def ladder_therapies(therapies: Iterable[Therapy]) -> tuple[Therapy, ...]:
    """Active therapies that move the ladder: a tier, not as-needed only.

    docs/clinical-rules.md §3, §6.20.
    """
    return tuple(t for t in therapies if t.tier is not None and not t.as_needed)


def class_start(therapies: Iterable[Therapy], *classes: str) -> datetime | None:
    """The earliest dated start among active therapies of these classes.

    docs/clinical-rules.md §6.6.
    """
    starts = [t.start for t in therapies if t.drug_class in classes and t.start is not None]
    return min(starts) if starts else None


def has_class(therapies: Iterable[Therapy], *classes: str) -> bool:
    return any(t.drug_class in classes for t in therapies)
