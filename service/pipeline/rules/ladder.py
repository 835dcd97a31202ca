"""Where the patient stands on the ladder.

docs/clinical-rules.md §3, §6.3, §6.4, §6.6, §6.20, §6.23.

Only active therapies that are not as-needed only move the ladder.
- Tier 1 complete = an h1 and an h2 therapy (ranitidine counts as h2); its start is the
  later of the two class starts (each the earliest course start of its class).
- Current tier = the highest tier of those therapies (aspirin, steroids never count).
- Time on tier = now minus the tier's start (tiers 2-4: the earliest course start).
- Refractory = time on tier at least min_trial_days for the tier AND, counting only
  events dated on or after the tier's start + response_onset_days and inside the
  lookback, with at least one counted event in the last recent_event_days (checked per
  alternative): min_anaphylaxis_episodes counted episodes, or (tier 1 only)
  min_respiratory_events counted respiratory events. A tier 3 or 4 biologic without a
  judged course is never refractory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.pipeline.facts.model import Facts, Therapy
from service.pipeline.rules.episodes import Episode, Respiratory
from service.pipeline.rules.model import Cluster, day, days_between
from service.pipeline.rules.timeline import class_start, ladder_therapies, lookback_start
from service.pipeline.rules.trace import NO_TRACE, Recorder
from service.thresholds.model import Thresholds


@dataclass(frozen=True)
class Position:
    tier1_complete: bool
    current_tier: int
    tier_start: datetime | None
    tier_therapies: tuple[Therapy, ...]
    trial_met: bool
    episodes: tuple[Episode, ...]  # counted toward refractoriness, inside the windows
    respiratory: tuple[Cluster, ...]  # counted toward refractoriness (tier 1 only)
    refractory: bool
    judged: bool = True  # False: a tier 3/4 biologic with no judged course
    # counted episodes after the tier's start, before response_onset_days had passed
    early: tuple[Episode, ...] = ()
    recent_missing: bool = False  # enough events, but none in the last recent_event_days


def tier1_start(therapies: tuple[Therapy, ...]) -> datetime | None:
    h1, h2 = class_start(therapies, "h1"), class_start(therapies, "h2")
    return max(h1, h2) if h1 is not None and h2 is not None else None


def position(
    facts: Facts, all_episodes: tuple[Episode, ...], breathing: Respiratory,
    thresholds: Thresholds, now: datetime, trace: Recorder = NO_TRACE,
) -> Position:
    therapies = ladder_therapies(facts.therapies)
    tier1_complete = any(t.drug_class == "h1" for t in therapies) and any(
        t.drug_class == "h2" for t in therapies
    )
    current = max((t.tier for t in therapies if t.tier is not None), default=0)
    trace.compare("tier1.complete", len({t.drug_class for t in therapies} & {"h1", "h2"}),
                  "classes", 2, ">=", tier1_complete, "H1 and H2 antihistamine active")
    trace.compare("ladder.current_tier", current, "tier", 0, ">", current > 0,
                  "the highest tier of the active ladder therapies")
    on_tier = tuple(t for t in therapies if t.tier == current and current > 0)
    if current == 1:
        start = tier1_start(therapies) if tier1_complete else None
    else:
        dated = [t.start for t in on_tier if t.start is not None]
        start = min(dated) if dated else None
    judged = current < 3 or any(t.judged for t in on_tier)
    if start is None or current == 0:
        return Position(tier1_complete, current, start, on_tier, False, (), (), False, judged)
    trial = now - start >= timedelta(days=thresholds.min_trial_days[current])
    since = start + timedelta(days=thresholds.response_onset_days[current])
    lookback = lookback_start(now, thresholds.lookback_days)
    recent_from = now - timedelta(days=thresholds.recent_event_days)
    counted = tuple(e for e in all_episodes if e.counted)
    episodes = tuple(e for e in counted if e.start >= since and e.start >= lookback)
    # counted episodes after the tier's start but before the therapy could act
    early = tuple(e for e in counted if start <= e.start < since and e.start >= lookback)
    respiratory: tuple[Cluster, ...] = ()
    if current == 1 and breathing.counts:
        respiratory = tuple(
            c for c in breathing.clusters if c.start >= since and c.start >= lookback
        )
    by_episodes = len(episodes) >= thresholds.min_anaphylaxis_episodes
    by_respiratory = len(respiratory) >= thresholds.min_respiratory_events
    recent_episodes = any(e.start >= recent_from for e in episodes)
    recent_respiratory = any(c.start >= recent_from for c in respiratory)
    refractory = trial and judged and (
        (by_episodes and recent_episodes) or (by_respiratory and recent_respiratory)
    )
    recent_missing = (by_episodes or by_respiratory) and not (
        (by_episodes and recent_episodes) or (by_respiratory and recent_respiratory)
    )
    if trace.enabled:
        _record(trace, current, start, now, thresholds, episodes, respiratory, trial,
                judged, recent_from)
    return Position(tier1_complete, current, start, on_tier, trial, episodes, respiratory,
                    refractory, judged, early, recent_missing)


def _record(
    trace: Recorder, tier: int, start: datetime, now: datetime, thresholds: Thresholds,
    episodes: tuple[Episode, ...], respiratory: tuple[Cluster, ...], trial: bool,
    judged: bool, recent_from: datetime,
) -> None:
    """The comparisons behind ``refractory``, as ``position`` made them."""
    trace.compare("refractory.trial", days_between(start, now), "d",
                  thresholds.min_trial_days[tier], ">=", trial,
                  f"tier {tier} since {day(start)}")
    since = start + timedelta(days=thresholds.response_onset_days[tier])
    trace.compare("refractory.episodes", len(episodes), "episodes",
                  thresholds.min_anaphylaxis_episodes, ">=",
                  len(episodes) >= thresholds.min_anaphylaxis_episodes,
                  f"counted from {day(since)} within the last {thresholds.lookback_days} days")
    if tier == 1:
        trace.compare("refractory.respiratory", len(respiratory), "events",
                      thresholds.min_respiratory_events, ">=",
                      len(respiratory) >= thresholds.min_respiratory_events)
    latest = max([*(e.start for e in episodes), *(c.start for c in respiratory)], default=None)
    if latest is not None:
        trace.compare("refractory.recent", days_between(latest, now), "d",
                      thresholds.recent_event_days, "<=", latest >= recent_from,
                      f"latest counted event {day(latest)}")
    if tier >= 3:
        trace.compare("refractory.judged_course", int(judged), "", 1, "==", judged,
                      "a biologic with a completed administration or dispense")
