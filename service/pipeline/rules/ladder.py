"""Where the patient stands on the ladder (docs/clinical-rules.md §3, §6.3, §6.4, §6.6).

Tier 1 complete = an h1 and an h2 therapy both active (ranitidine counts as h2); its
start is the later of the two class starts. Current tier = the highest tier with an
active therapy (1: h1/h2; 2: leukotriene, oral cromolyn; 3: omalizumab; 4: dupilumab);
aspirin and systemic steroids never raise it. Time on tier = now minus the tier's start
(tier 1: the start of completeness; tiers 2-4: the earliest start of that tier's active
therapies). Refractory = time on tier at least min_trial_days for the tier AND, counting
only clusters whose first event is on or after the tier's start and inside the lookback,
at least min_anaphylaxis_episodes anaphylaxis episodes or min_respiratory_events
respiratory events (both merged by episode_merge_hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.pipeline.facts.model import Facts, Therapy
from service.pipeline.rules.model import Cluster
from service.pipeline.rules.timeline import class_start, clusters, counted, lookback_start
from service.thresholds.model import Thresholds


@dataclass(frozen=True)
class Position:
    tier1_complete: bool
    current_tier: int
    tier_start: datetime | None
    tier_therapies: tuple[Therapy, ...]
    trial_met: bool
    episodes: tuple[Cluster, ...]  # counted toward refractoriness
    respiratory: tuple[Cluster, ...]
    refractory: bool


def tier1_start(therapies: tuple[Therapy, ...]) -> datetime | None:
    h1, h2 = class_start(therapies, "h1"), class_start(therapies, "h2")
    return max(h1, h2) if h1 is not None and h2 is not None else None


def position(facts: Facts, thresholds: Thresholds, now: datetime) -> Position:
    therapies = facts.therapies
    tier1_complete = any(t.drug_class == "h1" for t in therapies) and any(
        t.drug_class == "h2" for t in therapies
    )
    current = max((t.tier for t in therapies if t.tier is not None), default=0)
    on_tier = tuple(t for t in therapies if t.tier == current and current > 0)
    if current == 1:
        start = tier1_start(therapies) if tier1_complete else None
    else:
        dated = [t.start for t in on_tier if t.start is not None]
        start = min(dated) if dated else None
    if start is None or current == 0:
        return Position(tier1_complete, current, start, on_tier, False, (), (), False)
    trial = now - start >= timedelta(days=thresholds.min_trial_days[current])
    since_lookback = lookback_start(now, thresholds.lookback_days)
    merge = thresholds.episode_merge_hours
    episodes = counted(
        clusters((e for e in facts.events if e.kind == "anaphylaxis"), merge), start, since_lookback
    )
    respiratory = counted(
        clusters((e for e in facts.events if e.kind == "respiratory"), merge), start, since_lookback
    )
    refractory = trial and (
        len(episodes) >= thresholds.min_anaphylaxis_episodes
        or len(respiratory) >= thresholds.min_respiratory_events
    )
    return Position(tier1_complete, current, start, on_tier, trial, episodes, respiratory,
                    refractory)
