"""Observations: mediator results with the LOINC codes of cards/mediators.yaml.

Filtered on the raw JSON (code and status) before validation: a record may carry
thousands of Observations the rules never read (docs/clinical-rules.md §2, §6.7, §6.11).
"""

from __future__ import annotations

from typing import Any

from service.knowledge.model import Analyte, Knowledge
from service.pipeline.facts.codes import codes_in, status_codes
from service.pipeline.facts.model import Result
from service.pipeline.facts.timeutil import first_time
from service.pipeline.facts.validation import is_valid

_USABLE_STATUSES = {"final", "amended", "corrected"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _reference_high(resource: dict[str, Any]) -> float | None:
    for reference in resource.get("referenceRange") or ():
        high = reference.get("high") if isinstance(reference, dict) else None
        if isinstance(high, dict) and _number(high.get("value")) is not None:
            return _number(high.get("value"))
    return None


def analyte_of(resource: dict[str, Any], knowledge: Knowledge) -> tuple[str, Analyte] | None:
    if resource.get("status") not in _USABLE_STATUSES:
        return None
    for code in codes_in(resource.get("code"), "loinc", knowledge):
        if code in knowledge.analytes:
            return code, knowledge.analytes[code]
    return None


def read_observation(resource: dict[str, Any], knowledge: Knowledge) -> Result | bool | None:
    """A Result; None when not read; False when it failed validation."""
    found = analyte_of(resource, knowledge)
    if found is None:
        return None
    if not is_valid(resource):
        return False
    loinc, analyte = found
    quantity = resource.get("valueQuantity") or {}
    unit = quantity.get("code") if isinstance(quantity.get("code"), str) else quantity.get("unit")
    interpretation: set[str] = set()
    for concept in resource.get("interpretation") or ():
        interpretation |= {code.upper() for code in status_codes(concept)}
    return Result(
        analyte=analyte.key,
        display=analyte.display,
        loinc=loinc,
        value=_number(quantity.get("value")),
        unit=unit if isinstance(unit, str) else None,
        when=first_time(resource, "effectiveDateTime", "effectivePeriod.start", "issued"),
        interpretation=frozenset(interpretation),
        reference_high=_reference_high(resource),
        expected_unit=analyte.unit,
        unit_synonyms=analyte.unit_synonyms,
        threshold_key=analyte.threshold_key,
        prostaglandin_marker=analyte.prostaglandin_marker,
        tryptase=analyte.tryptase,
    )
