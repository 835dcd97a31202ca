"""Observations: mediator results with the LOINC codes of cards/mediators.yaml.

docs/clinical-rules.md §2 "Mediator results", §6.7, §6.11. Filtered on the raw JSON (code
and status) before any validation: a record may carry thousands of Observations the
rules never read. A result is a number: ``valueQuantity`` (with its comparator) or a
value string such as "<1.0"; a ``dataAbsentReason`` is no result. The unit is
normalised with the analyte's spellings and conversions (the lab's own value and unit are
kept beside, for its reference range). The reference range's ``high``, else a numeric
upper bound in its text ("30-200", "<104"), is the lab's upper limit.
"""

from __future__ import annotations

import re
from typing import Any

from service.knowledge.model import Analyte, Knowledge
from service.pipeline.facts.codes import codes_in, items, scan, status_codes
from service.pipeline.facts.model import Result, ref_of
from service.pipeline.facts.timeutil import read_time
from service.pipeline.facts.validation import Tally, valid, valid_list

_USABLE_STATUSES = frozenset({"final", "amended", "corrected"})
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_VALUE_STRING = re.compile(rf"^\s*(<=|>=|<|>|≤|≥)?\s*({_NUMBER})\s*$")
_RANGE_UPPER = re.compile(rf"^\s*(?:<=|<|≤)\s*({_NUMBER})\b")
_RANGE_SPAN = re.compile(rf"^\s*{_NUMBER}\s*(?:-|\u2013|to)\s*({_NUMBER})\b")
_COMPARATOR_WORDS = {"≤": "<=", "≥": ">="}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def reference_high(resource: dict[str, Any]) -> float | None:
    """The lab's upper limit: referenceRange.high, else a bound in referenceRange.text."""
    ranges = [r for r in items(resource.get("referenceRange")) if isinstance(r, dict)]
    for reference in ranges:
        high = reference.get("high")
        value = _number(high.get("value")) if isinstance(high, dict) else None
        if value is not None and valid("Quantity", high):
            return value
    for reference in ranges:
        text = reference.get("text")
        if isinstance(text, str):
            match = _RANGE_UPPER.match(text) or _RANGE_SPAN.match(text)
            if match:
                return float(match.group(1))
    return None


def analyte_of(resource: dict[str, Any], knowledge: Knowledge) -> tuple[str, Analyte] | None:
    for code in codes_in(resource.get("code"), "loinc", knowledge):
        if code in knowledge.analytes:
            return code, knowledge.analytes[code]
    return None


def _analyte(scanned: dict[str, list[str]], knowledge: Knowledge) -> tuple[str, Analyte] | None:
    for code in scanned.get("loinc", ()):
        if code in knowledge.analytes:
            return code, knowledge.analytes[code]
    return None


def _value(resource: dict[str, Any]) -> tuple[float, str | None, str | None] | str | None:
    """(value, comparator, unit); the element name when unreadable; None when no result."""
    if resource.get("dataAbsentReason") is not None:
        return None
    quantity = resource.get("valueQuantity")
    if quantity is not None:
        if not valid("Quantity", quantity):
            return "valueQuantity"
        number = _number(quantity.get("value"))
        if number is None:
            return None
        code = quantity.get("code")
        unit = code if isinstance(code, str) else quantity.get("unit")
        return number, quantity.get("comparator"), unit if isinstance(unit, str) else None
    text = resource.get("valueString")
    if text is not None:
        match = _VALUE_STRING.match(text) if isinstance(text, str) else None
        if match is None:
            return "valueString"
        comparator = _COMPARATOR_WORDS.get(match.group(1), match.group(1))
        return float(match.group(2)), comparator, None
    return None


def read_observation(
    resource: dict[str, Any], knowledge: Knowledge, tally: Tally
) -> Result | None:
    """A Result; None when the rules read nothing of it (or it was left out and counted)."""
    scanned = scan(resource.get("code"), knowledge)
    if scanned is None:
        tally.left_out("Observation", "code")
        return None
    found = _analyte(scanned, knowledge)
    if found is None:
        return None
    status = resource.get("status")
    if isinstance(status, str) and status not in _USABLE_STATUSES:
        return None
    for element, datatype in (("status", "code"), ("code", "CodeableConcept")):
        if resource.get(element) is None or not valid(datatype, resource.get(element)):
            tally.left_out("Observation", element)
            return None
    if not valid_list("CodeableConcept", resource.get("interpretation")):
        tally.left_out("Observation", "interpretation")
        return None
    value = _value(resource)
    if isinstance(value, str):
        tally.left_out("Observation", value)
        return None
    if value is None:
        return None
    loinc, analyte = found
    number, comparator, raw_unit = value
    unit, normalised = analyte.normalised(raw_unit, number)
    interpretation: set[str] = set()
    for concept in items(resource.get("interpretation")):
        interpretation |= {code.upper() for code in status_codes(concept)}
    dated = read_time(resource, "effectiveDateTime", "effectivePeriod.start", "issued")
    end = read_time(resource, "effectivePeriod.end") if dated.path == "effectivePeriod.start" \
        else None
    if dated.unreadable or (end is not None and end.unreadable):
        tally.undated("Observation")
    return Result(
        analyte=analyte.key,
        display=analyte.display,
        loinc=loinc,
        value=normalised,
        unit=unit,
        when=dated.when,
        interpretation=frozenset(interpretation),
        reference_high=reference_high(resource),
        expected_unit=analyte.unit,
        threshold_key=analyte.threshold_key,
        prostaglandin_marker=analyte.prostaglandin_marker,
        tryptase=analyte.tryptase,
        comparator=comparator,
        raw_value=number,
        raw_unit=raw_unit,
        period_end=end.when if end is not None else None,
        date_only=dated.date_only,
        written_date=dated.written_date,
        ref=ref_of(resource),
    )
