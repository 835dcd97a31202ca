"""Anaphylaxis episodes and respiratory events: which clusters count (docs/clinical-rules.md §2,
§6.4, §6.5, §6.16, §6.21).

- Episodes (anaphylaxis Conditions with 7th character A or none, or SNOMED 39579001; not
  problem-list entries without an onset) are merged into clusters, follow-ups included.
- A cluster is **unexplained** when it holds a confirmed T78.2* / 39579001 episode and no
  trigger code (T78.0*, T88.6*, T80.5*, T63.*; any 7th character) is dated within it
  (inside its span, or within episode_merge_hours of one of its events); otherwise it is
  **triggered**. Counted = unexplained clusters; with count_triggered_anaphylaxis, also
  triggered clusters holding a confirmed episode. Suspected episodes never count.
- Respiratory events: wheezing, bronchospasm (R06.2, 56018004, 4386001) and stridor
  (R06.1), merged the same way (no follow-up rule). Dyspnoea (R06.0*) is listed, never
  counted. With asthma or COPD on record they do not count, unless
  count_respiratory_with_airway_disease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.pipeline.facts.model import Event, Facts
from service.pipeline.rules.model import Cluster, Note, day, note
from service.pipeline.rules.timeline import clusters
from service.thresholds.model import Thresholds


@dataclass(frozen=True)
class Episode:
    cluster: Cluster
    unexplained: bool
    counted: bool  # counts toward refractoriness (before the ladder's time windows)
    trigger: str | None = None  # the trigger code dated within it, when triggered
    confirmed: bool = True  # holds a confirmed episode

    @property
    def start(self) -> datetime:
        return self.cluster.start


def _trigger_within(cluster: Cluster, triggers: list[Event], merge: timedelta) -> Event | None:
    for trigger in triggers:
        when = trigger.when
        if when is None:
            continue
        if cluster.start <= when <= cluster.last:
            return trigger
        if any(e.when is not None and abs(when - e.when) <= merge for e in cluster.events):
            return trigger
    return None


def episodes(facts: Facts, thresholds: Thresholds) -> tuple[Episode, ...]:
    """Every anaphylaxis cluster, classified; ``present`` facts expected."""
    found = clusters(
        (e for e in facts.events if e.kind == "anaphylaxis"),
        thresholds.episode_merge_hours,
        thresholds.episode_followup_days,
    )
    triggers = [e for e in facts.events if e.trigger_code and e.when is not None]
    merge = timedelta(hours=thresholds.episode_merge_hours)
    classified = []
    for cluster in found:
        trigger = _trigger_within(cluster, triggers, merge)
        confirmed = any(not e.suspected for e in cluster.events)
        unexplained = trigger is None and any(
            e.unexplained_code and not e.suspected for e in cluster.events
        )
        counted = unexplained or (thresholds.count_triggered_anaphylaxis and confirmed)
        label = f"{trigger.label} ({trigger.code})" if trigger is not None else None
        classified.append(Episode(cluster, unexplained, counted, label, confirmed))
    return tuple(classified)


def episode_notes(all_episodes: tuple[Episode, ...], facts: Facts, thresholds: Thresholds
                  ) -> list[Note]:
    """Every episode merged, reclassified or not counted, with the reason.

    docs/clinical-rules.md §2 "Anaphylaxis episodes".
    """
    notes: list[Note] = []
    for episode in all_episodes:
        cluster = episode.cluster
        first = day(cluster.start)
        for event, how in cluster.merges:
            if how == "follow_up":
                notes.append(note("episode.merged_follow_up", date=day(event.when), first=first,
                                  days=thresholds.episode_followup_days))
            else:
                notes.append(note("episode.merged_next_day", date=day(event.when), first=first))
        if not episode.confirmed:
            notes.append(note("episode.suspected", date=first))
        elif not episode.unexplained:
            key = "episode.triggered_counted" if episode.counted else "episode.triggered"
            notes.append(note(key, date=first, trigger=episode.trigger or "named trigger"))
    for event in facts.events:
        if event.kind == "anaphylaxis_history":
            notes.append(note("episode.history_only", label=f"{event.label} ({event.code})"))
        elif event.kind == "anaphylaxis_follow_up":
            notes.append(note("episode.follow_up_code", label=f"{event.label} ({event.code})",
                              date=day(event.when)))
        elif event.kind == "anaphylaxis" and event.when is None:
            notes.append(note("episode.undated", label=f"{event.label} ({event.code})"))
    return notes


@dataclass(frozen=True)
class Respiratory:
    clusters: tuple[Cluster, ...]  # counted kinds (wheeze, bronchospasm, stridor), merged
    counts: bool  # False: asthma/COPD on record and the switch is off
    airway_disease: str | None  # the airway disease on record, named
    dyspnoea: int  # dyspnoea records (never counted)


def respiratory(facts: Facts, thresholds: Thresholds) -> Respiratory:
    events = [e for e in facts.events if e.kind == "respiratory" and not e.dyspnoea]
    airway = next(
        (d for d in facts.diagnoses if d.kind == "airway_disease" and d.status_active), None
    )
    disease = airway.label if airway is not None else None
    counts = airway is None or thresholds.count_respiratory_with_airway_disease
    dyspnoea = sum(1 for e in facts.events if e.kind == "respiratory" and e.dyspnoea)
    return Respiratory(
        clusters(events, thresholds.episode_merge_hours), counts, disease, dyspnoea
    )
