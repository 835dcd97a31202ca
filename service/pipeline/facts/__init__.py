"""Facts: from the resolved prefetch's raw JSON to the few records the rules read.

Each resource is first matched by code on its raw JSON (cheap); only the matching ones
have the elements the rules read validated against the fhir.resources R4B datatypes
(docs/clinical-rules.md §2 "Reading a resource", §6.8). A fault elsewhere never drops a
resource; an unreadable date makes it undated; an unreadable code, status or value leaves
it out. Both are counted by resource type (never their content) and the cards say so.
The same resource type and id counts once, whichever prefetch key carried it; every
resource is the context patient's, with or without a ``subject``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

from service.knowledge.model import Knowledge
from service.pipeline.facts.conditions import read_condition
from service.pipeline.facts.medications import read_medication
from service.pipeline.facts.model import (
    Diagnosis,
    Event,
    Facts,
    Result,
    Supply,
    Therapy,
)
from service.pipeline.facts.observations import read_observation
from service.pipeline.facts.patient import birth_date
from service.pipeline.facts.validation import Tally, forget
from service.pipeline.prefetch import ResolvedPrefetch

log = logging.getLogger(__name__)

__all__ = ["Diagnosis", "Event", "Facts", "Result", "Supply", "Therapy", "extract_facts"]

_MEDICATION_TYPES = frozenset(
    {"MedicationStatement", "MedicationRequest", "MedicationAdministration", "MedicationDispense"}
)


def _unique(prefetch: ResolvedPrefetch) -> Iterator[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    for resources in prefetch.resources.values():
        for resource in resources:
            if not isinstance(resource, dict):
                continue
            kind, rid = resource.get("resourceType"), resource.get("id")
            if not isinstance(kind, str):
                continue  # no readable type: nothing the rules could read
            if isinstance(rid, str):
                if (kind, rid) in seen:
                    continue
                seen.add((kind, rid))
            yield resource


def extract_facts(
    prefetch: ResolvedPrefetch, knowledge: Knowledge, patient_id: str | None = None
) -> Facts:
    try:
        return _extract(prefetch, knowledge, patient_id)
    finally:
        forget()  # nothing of this record stays in the validation memos


def _extract(
    prefetch: ResolvedPrefetch, knowledge: Knowledge, patient_id: str | None
) -> Facts:
    resources = list(_unique(prefetch))
    by_type: dict[str, dict[str, dict[str, Any]]] = {"Medication": {}, "Condition": {}}
    for r in resources:
        kind, rid = r.get("resourceType"), r.get("id")
        if kind in by_type and isinstance(rid, str):
            by_type[str(kind)][rid] = r
    tally = Tally()
    diagnoses: list[Diagnosis] = []
    events: list[Event] = []
    therapies: list[Therapy] = []
    supplies: list[Supply] = []
    results: list[Result] = []
    unclear: list[tuple[str, str]] = []
    patient: dict[str, Any] | None = None
    for resource in resources:
        kind = resource.get("resourceType")
        if kind == "Condition":
            condition = read_condition(resource, knowledge, tally)
            if condition is not None:
                diagnoses += condition.diagnoses
                events += condition.events
        elif kind == "Observation":
            result = read_observation(resource, knowledge, tally)
            if result is not None:
                results.append(result)
        elif kind in _MEDICATION_TYPES:
            read = read_medication(
                resource, knowledge, by_type["Medication"], by_type["Condition"], tally
            )
            if read is not None:
                therapies += read.therapies
                supplies += read.supplies
                if read.unclear is not None and read.unclear not in unclear:
                    unclear.append(read.unclear)
        elif kind == "Patient" and patient is None:
            patient = resource
    return Facts(
        patient_id=patient_id,
        diagnoses=tuple(diagnoses),
        events=tuple(events),
        therapies=tuple(t for t in therapies if t.active),
        records=tuple(therapies),
        supplies=tuple(s for s in supplies if s.when is not None),
        results=tuple(results),
        birth_date=birth_date(patient),
        unclear=tuple(unclear),
        unavailable=MappingProxyType(dict(prefetch.unavailable)),
        reading=tally.frozen(),
    )
