"""Rescue-medication safety cards: epinephrine-autoinjector and albuterol (docs/clinical-rules.md
§2, §4, §6.5, §6.9, §6.10, §6.20).

- epinephrine-autoinjector (warning) when: anaphylaxis history (any anaphylaxis Condition
  ever: suspected, triggered, follow-up codes and problem-list entries included;
  Z87.892; or angioedema T78.3* / SNOMED 41291007, the card then saying "angioedema";
  any clinicalStatus) and no active epinephrine auto-injector (as needed counts).
- albuterol when: at least one bronchospasm event (R06.2, SNOMED 56018004 or 4386001)
  dated inside the lookback, and no active albuterol or levalbuterol.
Neither is shown when either medication key is unavailable: absence cannot be known.
"""

from __future__ import annotations

from datetime import datetime

from service.pipeline.facts.model import Facts
from service.pipeline.rules.model import Cluster, Decision, Note, day, note
from service.pipeline.rules.timeline import dated, has_class, lookback_start
from service.thresholds.model import Thresholds

_HISTORY = ("anaphylaxis", "anaphylaxis_follow_up", "anaphylaxis_history", "angioedema",
            "history")


def _medications_known(facts: Facts) -> bool:
    return not any(k in facts.unavailable for k in ("medicationStatements", "medicationRequests"))


def epinephrine(facts: Facts) -> Decision | None:
    history = [e for e in facts.events if e.kind in _HISTORY]
    if not history or not _medications_known(facts):
        return None
    if has_class(facts.therapies, "epinephrine_autoinjector"):
        return None
    with_dates = dated(history)
    undated = len(history) - len(with_dates)
    shown = "; ".join(f"{e.label} ({e.code}) on {day(when)}" for when, e in with_dates[-5:])
    key = ("history.angioedema" if all(e.kind == "angioedema" for e in history)
           else "history.anaphylaxis")
    notes: list[Note] = []
    if shown:
        notes.append(note(key, records=shown))
    if undated:
        notes.append(note("history.undated", count=undated))
    return Decision(
        topic="epinephrine-autoinjector",
        params={"history": "Angioedema" if key == "history.angioedema" else "Anaphylaxis"},
        suggestions=("epinephrine_autoinjector",),
        notes=(note("epinephrine.none"), *notes),
    )


def albuterol(facts: Facts, thresholds: Thresholds, now: datetime) -> Decision | None:
    since = lookback_start(now, thresholds.lookback_days)
    events = [
        (when, e) for when, e in dated(facts.events)
        if e.kind == "respiratory" and e.bronchospasm and when >= since
    ]
    if not events or not _medications_known(facts) or has_class(facts.therapies, "albuterol"):
        return None
    return Decision(
        topic="albuterol",
        params={"lookback": str(thresholds.lookback_days)},
        notes=(note("albuterol.events", count=len(events), lookback=thresholds.lookback_days),
               note("albuterol.none")),
        respiratory=tuple(Cluster(when, (e,)) for when, e in events),
        suggestions=("albuterol",),
    )
