"""The patient's MCAS course, read as the hooks read it, laid out for the picture.

The record is read from the launch's FHIR server with the hooks' FHIR client
(``service.fhir.FhirFallback``: same allowlist, timeouts, paging and Medication reads),
for the same prefetch queries the hook publishes; then the hooks' own functions judge it:
``extract_facts``, ``scope``, ``evaluate`` (the cards' decisions), ``position`` (tier,
trial, counted episodes), the mediator and tryptase assessments. Nothing clinical is
decided here: this module only arranges what the rules decided on a time axis, so the
picture cannot disagree with the cards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from service.fhir.fallback import FallbackSettings, FhirFallback
from service.knowledge.model import Knowledge
from service.pipeline.facts import extract_facts
from service.pipeline.facts.model import Result, Therapy
from service.pipeline.facts.patient import age_on
from service.pipeline.prefetch import ResolvedPrefetch, prefetch_templates, resolve_prefetch
from service.pipeline.rules import evaluate, scope
from service.pipeline.rules.episodes import Episode, Respiratory, episodes, respiratory
from service.pipeline.rules.ladder import Position, position, tier1_start
from service.pipeline.rules.mediators import assess_all
from service.pipeline.rules.model import Cluster, day
from service.pipeline.rules.timeline import (
    class_start,
    ladder_therapies,
    lookback_start,
    present,
    with_courses,
)
from service.pipeline.rules.tryptase import (
    TRYPTASE_ADDEND_NG_ML,
    TRYPTASE_FACTOR,
    assess_tryptase,
)
from service.thresholds.model import Thresholds
from service.timeline.errors import TimelineError

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
REQUIRED_KEYS = ("conditions",)
MEDICATION_KEYS = ("medicationStatements", "medicationRequests")
TIER_LABELS = {1: "Tier 1: H1 + H2 antihistamines", 2: "Tier 2: leukotriene / oral cromolyn",
               3: "Tier 3: omalizumab", 4: "Tier 4: dupilumab (off-label)"}


@dataclass(frozen=True)
class Mark:
    """An anaphylaxis episode or respiratory event cluster on the axis."""

    when: datetime
    kind: str  # "anaphylaxis" or "respiratory"
    label: str  # what the record calls it (codes of the merged events)
    counted: bool
    why: str  # counted: toward refractoriness on tier N; else why not


@dataclass(frozen=True)
class TherapyBar:
    label: str
    drug_class: str
    tier: int | None
    start: datetime | None
    dose: str | None


@dataclass(frozen=True)
class MediatorPoint:
    when: datetime | None
    analyte: str
    value: float | None
    unit: str | None
    threshold: float | None  # the administrator threshold in this unit, when it applies
    elevated: bool
    reason: str


@dataclass(frozen=True)
class TryptasePair:
    acute_when: datetime
    acute: float
    baseline_when: datetime
    baseline: float
    limit: float  # 1.2 x baseline + 2 ng/mL (the consensus rule's fixed numbers)
    elevated: bool
    reason: str


@dataclass(frozen=True)
class TrialWindow:
    tier: int
    start: datetime
    end: datetime  # start + min_trial_days for the tier


@dataclass(frozen=True)
class Course:
    patient_id: str
    now: datetime
    in_scope: bool
    thresholds_version: str
    lookback_from: datetime
    current_tier: int
    tier_start: datetime | None
    refractory: bool
    min_episodes: int
    min_respiratory: int
    counted_episodes: int
    counted_respiratory: int
    topics: tuple[str, ...]  # the cards the hook shows, in its order
    therapies: tuple[TherapyBar, ...]
    marks: tuple[Mark, ...]
    mediators: tuple[MediatorPoint, ...]
    tryptase: tuple[TryptasePair, ...]
    windows: tuple[TrialWindow, ...]
    unavailable: Mapping[str, str]  # data that could not be read (shown on the page)

    @property
    def start(self) -> datetime:
        """The left end of the axis: the lookback, or earlier data shown."""
        moments = [self.lookback_from]
        moments += [t.start for t in self.therapies if t.start is not None]
        moments += [m.when for m in self.marks]
        moments += [p.when for p in self.mediators if p.when is not None]
        moments += [p.baseline_when for p in self.tryptase]
        return min(moments)


def _label(cluster: Cluster) -> str:
    return ", ".join(dict.fromkeys(f"{e.label} ({e.code})" for e in cluster.events))


def _merged(cluster: Cluster) -> str:
    return (f"; {len(cluster.events)} records merged into one episode"
            if len(cluster.events) > 1 else "")


def _episode_marks(all_episodes: tuple[Episode, ...], pos: Position, thresholds: Thresholds,
                   lookback_from: datetime) -> list[Mark]:
    counted = {id(e) for e in pos.episodes}
    window = (pos.tier_start + timedelta(days=thresholds.response_onset_days[pos.current_tier])
              if pos.tier_start is not None and pos.current_tier else None)
    marks = []
    for episode in all_episodes:
        if id(episode) in counted:
            why = f"counted toward refractoriness on tier {pos.current_tier}"
        elif not episode.confirmed:
            why = "not counted: suspected (provisional, differential or unconfirmed)"
        elif not episode.counted:
            why = f"not counted: triggered ({episode.trigger or 'a named trigger'})"
        elif episode.start < lookback_from:
            why = f"not counted: before the lookback ({day(lookback_from)})"
        elif window is None:
            why = "not counted: no current tier with a dated start"
        else:
            why = (f"not counted: before tier {pos.current_tier} could act "
                   f"(its start + response time: {day(window)})")
        marks.append(Mark(episode.start, "anaphylaxis", _label(episode.cluster),
                          id(episode) in counted, why + _merged(episode.cluster)))
    return marks


def _respiratory_marks(breathing: Respiratory, pos: Position,
                       lookback_from: datetime) -> list[Mark]:
    counted = {id(c) for c in pos.respiratory}
    marks = []
    for cluster in breathing.clusters:
        if id(cluster) in counted:
            why = "counted toward refractoriness on tier 1"
        elif not breathing.counts:
            why = f"not counted: {breathing.airway_disease or 'asthma/COPD'} on record"
        elif cluster.start < lookback_from:
            why = f"not counted: before the lookback ({day(lookback_from)})"
        elif pos.current_tier != 1:
            why = "not counted: respiratory events count on tier 1 only"
        else:
            why = "not counted: before tier 1 could act"
        marks.append(Mark(cluster.start, "respiratory", _label(cluster),
                          id(cluster) in counted, why + _merged(cluster)))
    return marks


def _threshold(result: Result, thresholds: Thresholds, adult: bool) -> float | None:
    if (not adult or result.threshold_key is None or not result.unit
            or result.unit != result.expected_unit):
        return None
    return thresholds.mediator_thresholds.get(result.threshold_key)


def _dose(therapy: Therapy) -> str | None:
    if therapy.dose_mg_per_4_weeks is not None:
        return f"{therapy.dose_mg_per_4_weeks:g} mg per 4 weeks"
    if therapy.as_needed:
        return "as needed"
    return None


def judge(prefetch: ResolvedPrefetch, knowledge: Knowledge, thresholds: Thresholds,
          now: datetime, patient_id: str) -> Course:
    """The course from a resolved prefetch, judged by the rules as ``evaluate`` does.

    The steps are those of ``service.pipeline.rules.evaluate`` (rules v2), called with the
    same public functions, so the picture cannot disagree with the cards; the cards'
    decisions themselves come from ``evaluate``.
    """
    facts = extract_facts(prefetch, knowledge, patient_id)
    decisions = evaluate(facts, thresholds, now)
    current = with_courses(present(facts, now), thresholds)
    all_episodes = episodes(current, thresholds)
    breathing = respiratory(current, thresholds)
    pos = position(current, all_episodes, breathing, thresholds, now)
    # A child, or an unknown age, has no adult thresholds (docs/clinical-rules.md §2).
    adult = current.birth_date is not None and age_on(current.birth_date, now) >= 18
    lookback_from = lookback_start(now, thresholds.lookback_days)
    marks = _episode_marks(all_episodes, pos, thresholds, lookback_from)
    marks += _respiratory_marks(breathing, pos, lookback_from)
    mediators = tuple(
        MediatorPoint(f.result.when, f.result.display, f.result.value, f.result.unit,
                      _threshold(f.result, thresholds, adult), f.elevated, f.reason)
        for f in assess_all(current.results, thresholds, adult=adult)
    )
    pairs = []
    for finding in assess_tryptase(current.results, current.events, thresholds).findings:
        acute, base = finding.result, finding.baseline
        if (base is None or acute.when is None or acute.value is None or base.when is None
                or base.value is None):
            continue
        pairs.append(TryptasePair(
            acute.when, acute.value, base.when, base.value,
            TRYPTASE_FACTOR * base.value + TRYPTASE_ADDEND_NG_ML,
            finding.elevated, finding.reason,
        ))
    ladder = ladder_therapies(current.therapies)
    windows = []
    for tier, classes in ((1, ("h1", "h2")), (2, ("leukotriene", "cromolyn_oral")),
                          (3, ("omalizumab",)), (4, ("dupilumab",))):
        if tier == pos.current_tier:
            start = pos.tier_start
        elif tier == 1:
            start = tier1_start(ladder) if pos.tier1_complete else None
        else:
            start = class_start(ladder, *classes)
        if start is not None:
            days = thresholds.min_trial_days.get(tier, 0)
            windows.append(TrialWindow(tier, start, start + timedelta(days=days)))
    therapies = tuple(
        TherapyBar(t.label, t.drug_class, t.tier, t.start, _dose(t)) for t in current.therapies
    )
    return Course(
        patient_id=patient_id,
        now=now,
        in_scope=scope(facts, now).in_scope,
        thresholds_version=thresholds.version,
        lookback_from=lookback_from,
        current_tier=pos.current_tier,
        tier_start=pos.tier_start,
        refractory=pos.refractory,
        min_episodes=thresholds.min_anaphylaxis_episodes,
        min_respiratory=thresholds.min_respiratory_events,
        counted_episodes=len(pos.episodes),
        counted_respiratory=len(pos.respiratory),
        topics=tuple(d.topic for d in decisions),
        therapies=therapies,
        marks=tuple(sorted(marks, key=lambda m: m.when)),
        mediators=mediators,
        tryptase=tuple(pairs),
        windows=tuple(windows),
        unavailable=dict(facts.unavailable),
    )


def _refusal(unavailable: Mapping[str, str]) -> TimelineError | None:
    reasons = " ".join(unavailable.values())
    for status in ("401", "403"):
        if f"HTTP {status}" in reasons and "refused access" in reasons:
            return TimelineError(
                f"fhir_{status}",
                f"The EHR's FHIR server refused to share this patient's record with the app "
                f"(HTTP {status}). The launch may have expired: launch the timeline again "
                "from the patient's chart.",
                502,
            )
    return None


def read_course(
    *,
    iss: str,
    access_token: str,
    patient_id: str,
    knowledge: Knowledge,
    thresholds: Thresholds,
    now: datetime,
    config: Mapping[str, Any],
    deadline: float,
) -> Course:
    if not FHIR_ID.fullmatch(patient_id):
        raise TimelineError("no_patient", "The EHR sent a patient id that is not a FHIR id.")
    settings = replace(FallbackSettings.from_config(config), deadline=deadline)
    if not settings.allowlist.allows_base(iss):
        raise TimelineError(
            "iss_not_allowed",
            "This EHR's FHIR server is not among the servers this service may read "
            "(MCAS_FHIR_ALLOWED_SERVERS).",
            403,
        )
    fetcher = FhirFallback(iss, access_token, {"patientId": patient_id}, settings)
    resolved = resolve_prefetch({}, prefetch_templates(knowledge), fetcher)
    missing_required = [k for k in REQUIRED_KEYS if k in resolved.unavailable] or (
        list(MEDICATION_KEYS) if all(k in resolved.unavailable for k in MEDICATION_KEYS) else []
    )
    if missing_required:
        refusal = _refusal(resolved.unavailable)
        if refusal is not None:
            raise refusal
        raise TimelineError(
            "fhir_unavailable",
            "The patient's record could not be read from the EHR's FHIR server ("
            + "; ".join(f"{k}: {resolved.unavailable[k]}" for k in missing_required)
            + "). Try again in a moment.",
            502,
        )
    return judge(resolved, knowledge, thresholds, now, patient_id)
