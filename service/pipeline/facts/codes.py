"""Reading codes from raw FHIR JSON: systems (URI or OID form) and normalised codes.

These run on the raw dicts, before any model validation, so they never trust the shape:
anything that is not the expected JSON type is simply not a match.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service.knowledge.model import Knowledge, normalise_icd10


def codings(concept: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(concept, dict):
        return
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            yield coding


def codes_in(concept: Any, system: str, knowledge: Knowledge) -> list[str]:
    """The codes of `concept` under code system `system` (its URI or an OID form).

    The same test as ``codings`` written as one loop: it runs for every resource of the
    record, thousands per call, before anything is filtered out.
    """
    if not isinstance(concept, dict):
        return []
    accepted = knowledge.systems.get(system, frozenset())
    found: list[str] = []
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict):
            code = coding.get("code")
            if isinstance(code, str) and coding.get("system") in accepted:
                found.append(code.strip())
    return found


def words_of(concept: Any) -> list[str]:
    """The human-readable parts of a CodeableConcept: its text and coding displays."""
    if not isinstance(concept, dict):
        return []
    found = [concept["text"]] if isinstance(concept.get("text"), str) else []
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            found.append(coding["display"])
    return found


def status_codes(concept: Any) -> set[str]:
    return {c["code"].strip().lower() for c in codings(concept)}


def condition_sets(concept: Any, knowledge: Knowledge) -> dict[str, str]:
    """{code set name: the matching code as sent} for a Condition.code."""
    icd = [(normalise_icd10(c), c) for c in codes_in(concept, "icd10cm", knowledge)]
    snomed = codes_in(concept, "snomed", knowledge)
    found: dict[str, str] = {}
    for name, code_set in knowledge.condition_sets.items():
        for normalised, sent in icd:
            if normalised in code_set.icd10_exact or normalised.startswith(code_set.icd10_prefix):
                found.setdefault(name, sent)
        for code in snomed:
            if code in code_set.snomed:
                found.setdefault(name, code)
    return found


def seventh_character(icd_code: str) -> str | None:
    normalised = normalise_icd10(icd_code)
    return normalised[6] if len(normalised) >= 7 else None
