"""Conditions: MCAS and clonal diagnoses (scope) and dated events (anaphylaxis, respiratory).

Only Conditions carrying a code the rules read are validated (docs/clinical-rules.md §1,
§2, §6.5, §6.12).
"""

from __future__ import annotations

from typing import Any

from service.knowledge.model import Knowledge, normalise_icd10
from service.pipeline.facts.codes import codes_in, condition_sets, status_codes, words_of
from service.pipeline.facts.model import Diagnosis, Event
from service.pipeline.facts.timeutil import first_time
from service.pipeline.facts.validation import is_valid

_DIAGNOSIS_SETS = ("mcas", "clonal", "hereditary_alpha_tryptasemia")
_ACTIVE = {"active", "recurrence", "relapse"}
_EXCLUDED = {"entered-in-error", "refuted"}
_UNCONFIRMED = {"provisional", "differential", "unconfirmed"}


def _is_episode(concept: Any, knowledge: Knowledge) -> bool:
    """An anaphylaxis coding with 7th character A or none, or the SNOMED concept."""
    anaphylaxis = knowledge.condition_sets["anaphylaxis"]
    if any(code in anaphylaxis.snomed for code in codes_in(concept, "snomed", knowledge)):
        return True
    for code in codes_in(concept, "icd10cm", knowledge):
        normalised = normalise_icd10(code)
        if normalised in anaphylaxis.icd10_exact or normalised.startswith(anaphylaxis.icd10_prefix):
            seventh = normalised[6] if len(normalised) >= 7 else None
            if seventh is None or seventh in knowledge.episode_seventh:
                return True
    return False


def read_condition(
    resource: dict[str, Any], knowledge: Knowledge
) -> tuple[list[Diagnosis], list[Event]] | bool | None:
    """None when not read at all, False when invalid, ([], []) when read but excluded."""
    concept = resource.get("code")
    sets = condition_sets(concept, knowledge)
    if not sets:
        return None
    if not is_valid(resource):
        return False
    verification = status_codes(resource.get("verificationStatus"))
    if verification & _EXCLUDED:
        return [], []
    clinical = status_codes(resource.get("clinicalStatus"))
    when = first_time(resource, "onsetDateTime", "onsetPeriod.start", "recordedDate")
    diagnoses = [
        Diagnosis(
            kind=name,
            code=sets[name],
            active=not clinical or bool(clinical & _ACTIVE),
            confirmed="confirmed" in verification or not verification & _UNCONFIRMED,
            when=when,
        )
        for name in _DIAGNOSIS_SETS
        if name in sets
    ]
    label = next(iter(words_of(concept)), "")
    events: list[Event] = []
    if "anaphylaxis" in sets:
        kind = "anaphylaxis" if _is_episode(concept, knowledge) else "anaphylaxis_follow_up"
        events.append(Event(kind, sets["anaphylaxis"], label or "anaphylaxis", when))
    for name in ("angioedema", "anaphylaxis_history"):
        if name in sets:
            kind = "history" if name == "anaphylaxis_history" else name
            events.append(Event(kind, sets[name], label or name.replace("_", " "), when))
    if "respiratory" in sets:
        events.append(
            Event("respiratory", sets["respiratory"], label or "respiratory event", when,
                  bronchospasm="bronchospasm" in sets)
        )
    return diagnoses, events

