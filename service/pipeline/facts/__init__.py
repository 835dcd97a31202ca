"""Facts: from the resolved prefetch's raw JSON to the few records the rules read.

Each resource is first matched by code on its raw JSON (cheap); only the matching ones
are validated with the fhir.resources R4B models (docs/clinical-rules.md §2, §6.8). A
resource that fails validation is skipped, counted and logged without patient data; the
others still count. The same resource type and id counts once, whichever prefetch key
carried it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from types import MappingProxyType
from typing import Any

from service.knowledge.model import Knowledge
from service.pipeline.facts.conditions import read_condition
from service.pipeline.facts.medications import read_medication
from service.pipeline.facts.model import Diagnosis, Event, Facts, Result, Therapy
from service.pipeline.facts.observations import read_observation
from service.pipeline.prefetch import ResolvedPrefetch

log = logging.getLogger(__name__)

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


_READERS: dict[str, Callable[..., Any]] = {
    "Condition": lambda resource, knowledge, _: read_condition(resource, knowledge),
    "Observation": lambda resource, knowledge, _: read_observation(resource, knowledge),
    "MedicationStatement": read_medication,
    "MedicationRequest": read_medication,
}


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
        reader = _READERS.get(kind) if isinstance(kind, str) else None
        if reader is None:
            continue
        try:
            read = reader(resource, knowledge, medications)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # The raw JSON is read (for codes) before validation: a resource shaped so
            # oddly that even that fails is skipped like any invalid one.
            log.warning("resource skipped",
                        extra={"resource_type": kind, "reason": exc.__class__.__name__})
            read = False
        if isinstance(read, tuple):
            diagnoses += read[0]
            events += read[1]
        elif isinstance(read, Result):
            results.append(read)
        elif isinstance(read, list):
            therapies += read
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
