"""Conditions: diagnoses (scope, clonal disease, airway disease, pregnancy, steroid
replacement) and dated events (anaphylaxis, triggers, angioedema, respiratory).

docs/clinical-rules.md §1, §2, §6.5, §6.8, §6.12, §6.16. A Condition is read by its code,
clinicalStatus, verificationStatus, category, onset/recorded dates and the presence of
an abatement; nothing else about it is looked at. Clonal disease is decided from the raw
codes first, so a malformed Condition of mastocytosis still excludes (fails closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.knowledge.model import Knowledge, normalise_icd10
from service.pipeline.facts.codes import (
    codes_in,
    condition_sets,
    indication_of,
    items,
    scan,
    sets_of,
    status_codes,
    words_of,
)
from service.pipeline.facts.model import Diagnosis, Event, ref_of
from service.pipeline.facts.timeutil import TimeRead, read_time
from service.pipeline.facts.validation import Tally, valid, valid_list

ACTIVE = frozenset({"active", "recurrence", "relapse"})
EXCLUDED = frozenset({"entered-in-error", "refuted"})
UNCONFIRMED = frozenset({"provisional", "differential", "unconfirmed"})
_HISTORY_CATEGORIES = frozenset({"problem-list-item", "health-concern"})
_DIAGNOSIS_SETS = (
    "mcas", "monoclonal_mcas", "hereditary_alpha_tryptasemia", "airway_disease", "pregnancy",
    "steroid_replacement",
)
_DATES = ("onsetDateTime", "onsetPeriod.start", "recordedDate")


@dataclass
class ConditionRead:
    diagnoses: list[Diagnosis] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _is_episode(concept: Any, knowledge: Knowledge) -> bool:
    """An anaphylaxis coding with 7th character A or none, or the SNOMED concept."""
    anaphylaxis = knowledge.condition_sets["anaphylaxis"]
    if any(code in anaphylaxis.snomed for code in codes_in(concept, "snomed", knowledge)):
        return True
    for code in codes_in(concept, "icd10cm", knowledge):
        normalised = normalise_icd10(code)
        if anaphylaxis.has_icd10(normalised):
            seventh = normalised[6] if len(normalised) >= 7 else None
            if seventh is None or seventh in knowledge.episode_seventh:
                return True
    return False


def _has_abatement(resource: dict[str, Any]) -> bool:
    return any(key.startswith("abatement") and resource[key] is not None for key in resource)


def _clonal(resource: dict[str, Any], sets: dict[str, str], label: str) -> Diagnosis | None:
    """Clonal disease from the raw JSON: any status or date; only EIE/refuted excludes."""
    if "clonal" not in sets or status_codes(resource.get("verificationStatus")) & EXCLUDED:
        return None
    return Diagnosis(kind="clonal", code=sets["clonal"], active=True, confirmed=True,
                     when=None, label=label, ref=ref_of(resource))


def read_condition(
    resource: dict[str, Any], knowledge: Knowledge, tally: Tally
) -> ConditionRead | None:
    """The diagnoses and events of one Condition; None when the rules read none of it."""
    concept = resource.get("code")
    scanned = scan(concept, knowledge)
    if scanned is None:
        # An unreadable code: left out, but an exclusion code among the codings that can be
        # read still counts (docs/clinical-rules.md §1, §2).
        tally.left_out("Condition", "code")
        clonal = _clonal(resource, condition_sets(concept, knowledge), "")
        return ConditionRead(diagnoses=[clonal] if clonal is not None else [])
    sets = sets_of(scanned.get("icd10cm", []), scanned.get("snomed", []), knowledge)
    if not sets:
        return None
    label = next(iter(words_of(concept)), "")
    read = ConditionRead()
    clonal = _clonal(resource, sets, label)
    if clonal is not None:
        read.diagnoses.append(clonal)
    for element in ("code", "clinicalStatus", "verificationStatus"):
        if not valid("CodeableConcept", resource.get(element)):
            tally.left_out("Condition", element)
            return read  # an exclusion code still counts (docs/clinical-rules.md §1)
    verification = status_codes(resource.get("verificationStatus"))
    if verification & EXCLUDED:
        return read
    clinical = status_codes(resource.get("clinicalStatus"))
    abated = _has_abatement(resource)
    status_active = not clinical or bool(clinical & ACTIVE)
    active = bool(clinical & ACTIVE) if clinical else not abated
    confirmed = not verification & UNCONFIRMED
    dated = read_time(resource, *_DATES)
    if dated.unreadable:
        tally.undated("Condition")
    when = dated.when
    for name in _DIAGNOSIS_SETS:
        if name in sets:
            # airway disease is named by its kind (asthma, COPD), never by the record's text
            named = indication_of(concept, knowledge) if name == "airway_disease" else label
            read.diagnoses.append(Diagnosis(
                kind=name, code=sets[name], active=active, confirmed=confirmed, when=when,
                label=named or label, status_active=status_active, ref=ref_of(resource),
            ))
    read.events += _events(resource, knowledge, sets, label, dated, suspected=not confirmed)
    return read


def _events(
    resource: dict[str, Any], knowledge: Knowledge, sets: dict[str, str], label: str,
    dated: TimeRead, *, suspected: bool,
) -> list[Event]:
    categories: set[str] = set()
    category = resource.get("category")
    if valid_list("CodeableConcept", category):
        for concept in items(category):
            categories |= status_codes(concept)
    recorded_only = dated.path == "recordedDate"
    suspect = suspected
    trigger_code = "anaphylaxis_trigger" in sets
    unexplained_code = "unexplained_anaphylaxis" in sets
    ref = ref_of(resource)

    def event(kind: str, code: str, label: str, **flags: bool) -> Event:
        return Event(kind, code, label, dated.when, date_only=dated.date_only,
                     written_date=dated.written_date, recorded_only=recorded_only,
                     suspected=suspect, trigger_code=trigger_code,
                     unexplained_code=unexplained_code, ref=ref, **flags)

    events: list[Event] = []
    concept = resource.get("code")
    if "anaphylaxis" in sets:
        if not _is_episode(concept, knowledge):
            kind = "anaphylaxis_follow_up"
        elif categories & _HISTORY_CATEGORIES and dated.path not in _DATES[:2]:
            kind = "anaphylaxis_history"  # a problem-list entry with no onset
        else:
            kind = "anaphylaxis"
        events.append(event(kind, sets["anaphylaxis"], label or "anaphylaxis"))
    elif "anaphylaxis_trigger" in sets:
        events.append(event("trigger", sets["anaphylaxis_trigger"], label or "trigger"))
    for name in ("angioedema", "anaphylaxis_history"):
        if name in sets:
            kind = "history" if name == "anaphylaxis_history" else name
            events.append(event(kind, sets[name], label or name.replace("_", " ")))
    if "respiratory" in sets:
        events.append(event(
            "respiratory", sets["respiratory"], label or "respiratory event",
            bronchospasm="bronchospasm" in sets, dyspnoea="dyspnoea" in sets,
        ))
    return events
