"""Time handling shared by the rules (docs/clinical-rules.md §6.2, §6.4, §6.10, §6.11).

"Now" is the evaluation instant. Every fact dated after now is ignored entirely; a fact
without a date is present but never satisfies a duration or window. Bounds are inclusive.
Events are merged into clusters: sorted, an event less than `episode_merge_hours` after
the previous one joins its cluster, and the cluster is dated by its first event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from service.pipeline.facts.model import Event, Facts, Therapy
from service.pipeline.rules.model import Cluster


def _not_future(moment: datetime | None, now: datetime) -> bool:
    return moment is None or moment <= now


def present(facts: Facts, now: datetime) -> Facts:
    """The facts without anything dated after now."""
    return replace(
        facts,
        diagnoses=tuple(d for d in facts.diagnoses if _not_future(d.when, now)),
        events=tuple(e for e in facts.events if _not_future(e.when, now)),
        therapies=tuple(t for t in facts.therapies if _not_future(t.start, now)),
        results=tuple(r for r in facts.results if _not_future(r.when, now)),
    )


def dated(events: Iterable[Event]) -> list[tuple[datetime, Event]]:
    """The events that carry a date, oldest first, with that date."""
    return sorted(((e.when, e) for e in events if e.when is not None), key=lambda pair: pair[0])


def clusters(events: Iterable[Event], merge_hours: float) -> tuple[Cluster, ...]:
    gap = timedelta(hours=merge_hours)
    found: list[tuple[datetime, list[Event], datetime]] = []  # (start, events, last)
    for when, event in dated(events):
        if found and when - found[-1][2] < gap:
            start, members, _ = found[-1]
            found[-1] = (start, [*members, event], when)
        else:
            found.append((when, [event], when))
    return tuple(Cluster(start=start, events=tuple(members)) for start, members, _ in found)


def lookback_start(now: datetime, lookback_days: int) -> datetime:
    return now - timedelta(days=lookback_days)


def counted(
    found: Iterable[Cluster], since: datetime, lookback_from: datetime
) -> tuple[Cluster, ...]:
    """Clusters whose first event is on or after `since` and inside the lookback."""
    return tuple(c for c in found if c.start >= since and c.start >= lookback_from)


def class_start(therapies: Iterable[Therapy], *classes: str) -> datetime | None:
    """The earliest dated start among active therapies of these classes.

    docs/clinical-rules.md §6.6.
    """
    starts = [t.start for t in therapies if t.drug_class in classes and t.start is not None]
    return min(starts) if starts else None


def has_class(therapies: Iterable[Therapy], *classes: str) -> bool:
    return any(t.drug_class in classes for t in therapies)
