"""Facts: from the resolved prefetch's raw JSON to the few records the rules read.

Each resource is first matched by code on its raw JSON (cheap); only the matching ones
are validated with the fhir.resources R4B models (rules.md 6.8). A resource that fails
validation is skipped, counted and logged without patient data; the others still count.
The same resource type and id counts once, whichever prefetch key carried it.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

from ..knowledge import Knowledge
from ..prefetch import ResolvedPrefetch
from .conditions import read_condition
from .medications import read_medication
from .model import Diagnosis, Event, Facts, Result, Therapy
from .observations import read_observation

__all__ = ["Diagnosis", "Event", "Facts", "Result", "Therapy", "extract_facts"]


def _unique(prefetch: ResolvedPrefetch) -> Iterator[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    for resources in prefetch.resources.values():
        for resource in resources:
            kind, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(kind, str) and isinstance(rid, str):
                if (kind, rid) in seen:
                    continue
                seen.add((kind, rid))
            yield resource


def extract_facts(
    prefetch: ResolvedPrefetch, knowledge: Knowledge, patient_id: str | None = None
) -> Facts:
    resources = list(_unique(prefetch))
    medications = {
        r["id"]: r for r in resources
        if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)
    }
    diagnoses: list[Diagnosis] = []
    events: list[Event] = []
    therapies: list[Therapy] = []
    results: list[Result] = []
    skipped = 0
    for resource in resources:
        kind = resource.get("resourceType")
        if kind == "Condition":
            read = read_condition(resource, knowledge)
            if isinstance(read, tuple):
                diagnoses += read[0]
                events += read[1]
        elif kind == "Observation":
            read = read_observation(resource, knowledge)
            if isinstance(read, Result):
                results.append(read)
        elif kind in ("MedicationStatement", "MedicationRequest"):
            read = read_medication(resource, knowledge, medications)
            if isinstance(read, list):
                therapies += read
        else:
            continue
        skipped += read is False
    return Facts(
        patient_id=patient_id,
        diagnoses=tuple(diagnoses),
        events=tuple(events),
        therapies=tuple(therapies),
        results=tuple(results),
        unavailable=MappingProxyType(dict(prefetch.unavailable)),
        skipped_resources=skipped,
    )
