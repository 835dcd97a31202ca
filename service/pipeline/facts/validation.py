"""Validation of the elements the rules read, one element at a time (docs/clinical-rules.md §2).

A resource is not validated whole: a fault in an element the rules do not use (a missing
``subject``, an unknown element, a malformed narrative) must never drop it. Each element
the rules read is checked against its FHIR R4 datatype model of fhir.resources (R4B), and
against the JSON types FHIR requires where pydantic's lax mode would coerce (a decimal
sent as the string "12", a boolean sent as "true").

The commonest shapes are accepted without the model (``_plainly_valid``, issue 18): a
CodeableConcept or a Quantity whose every key is one the model knows and whose every text
is plain printable ASCII that the model's patterns accept (a code without doubled or
outer spaces, a URI without spaces, a number that is a decimal). That check only ever
says "valid"; anything else, and every "invalid", is the model's answer
(tests/pipeline/facts/test_validation_fast_path.py holds it to the model's verdicts).

Validation results are memoised by the element's canonical JSON for the length of one hook
call: the same status, category and unit elements recur on every resource of a record, so
most checks are a dictionary look-up. The memo is emptied when the call's facts are read
(``forget``): no element of one patient's record stays in memory after it. Failures are
logged by resource type and element name only, never a value.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from types import MappingProxyType
from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.duration import Duration
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.range import Range
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.timing import Timing
from pydantic import ValidationError

from service.pipeline.facts.codes import concept_shape_ok
from service.pipeline.facts.timeutil import forget as forget_dates

log = logging.getLogger(__name__)

_MODELS: dict[str, Any] = {
    "CodeableConcept": CodeableConcept,
    "Quantity": Quantity,
    "Reference": Reference,
    "Period": Period,
    "Range": Range,
    "Timing": Timing,
    "Duration": Duration,
}
# The R4B datatypes the facts layer validates (service/ops/warmup.py warms each of them).
KNOWN_TYPES = frozenset(_MODELS)
_CODE = re.compile(r"^[^\s]+( [^\s]+)*$")
# Plain printable ASCII: what the model's string, uri and code patterns make of it is
# simple (the model's own patterns treat non-ASCII white space in ways this need not know).
_ASCII_CODE = re.compile(r"[!-~]+( [!-~]+)*")
_ASCII_URI = re.compile(r"[!-~]+")
_ASCII_TEXT = re.compile(r"[ -~]*[!-~][ -~]*")
_CONCEPT_KEYS = frozenset({"coding", "text"})
_CODING_KEYS = frozenset({"system", "code", "display"})
_QUANTITY_KEYS = frozenset({"value", "unit", "system", "code", "comparator"})
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_COMPARATORS = frozenset({"<", "<=", ">=", ">"})


@functools.lru_cache(maxsize=16384)
def _model_valid(kind: str, text: str) -> bool:
    try:
        _MODELS[kind].model_validate_json(text)
    except (ValidationError, ValueError, TypeError):
        return False
    return True


def forget() -> None:
    """Empty the memos of element checks and date readings (called after each record)."""
    _model_valid.cache_clear()
    forget_dates()


def _strict(kind: str, value: Any) -> bool:
    """JSON types FHIR requires that the lax models would coerce."""
    if kind == "CodeableConcept":
        return concept_shape_ok(value)
    if kind in {"Quantity", "Duration"}:
        number = value.get("value")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)):
            return False
        comparator = value.get("comparator")
        if comparator is not None and (
            not isinstance(comparator, str) or comparator not in _COMPARATORS
        ):
            return False
        return all(
            value.get(key) is None or isinstance(value.get(key), str)
            for key in ("unit", "code", "system")
        )
    if kind == "Reference":
        reference = value.get("reference")
        return reference is None or isinstance(reference, str)
    return True


def _plain_text(value: Any, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _plainly_valid(kind: str, value: dict[str, Any]) -> bool:
    """True only where the model is sure to say valid (see the module's docstring)."""
    if kind == "CodeableConcept":
        if not value.keys() <= _CONCEPT_KEYS:
            return False
        if "text" in value and not _plain_text(value["text"], _ASCII_TEXT):
            return False
        codings = value.get("coding", [])
        if not isinstance(codings, list):
            return False
        for coding in codings:
            if not isinstance(coding, dict) or not coding.keys() <= _CODING_KEYS:
                return False
            if "system" in coding and not _plain_text(coding["system"], _ASCII_URI):
                return False
            if "code" in coding and not _plain_text(coding["code"], _ASCII_CODE):
                return False
            if "display" in coding and not _plain_text(coding["display"], _ASCII_TEXT):
                return False
        return True
    if kind == "Quantity":
        if not value.keys() <= _QUANTITY_KEYS:
            return False
        number = value.get("value")
        if number is not None and not (
            type(number) in (int, float)
            and abs(number) < 1e15
            and _DECIMAL.fullmatch(repr(number)) is not None
        ):
            return False
        return (
            ("unit" not in value or _plain_text(value["unit"], _ASCII_TEXT))
            and ("system" not in value or _plain_text(value["system"], _ASCII_URI))
            and ("code" not in value or _plain_text(value["code"], _ASCII_CODE))
            and ("comparator" not in value or value["comparator"] in _COMPARATORS)
        )
    return False


def valid(kind: str, value: Any) -> bool:
    """``value`` is a valid FHIR R4 element of datatype ``kind`` (None counts as valid)."""
    if value is None:
        return True
    if kind == "code":
        return isinstance(value, str) and _CODE.match(value) is not None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if not isinstance(value, dict) or not _strict(kind, value):
        return False
    if _plainly_valid(kind, value):
        return True
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return False
    return _model_valid(kind, text)


def valid_list(kind: str, value: Any) -> bool:
    """A JSON array of valid ``kind`` elements (None counts as valid)."""
    if value is None:
        return True
    return isinstance(value, list) and all(valid(kind, item) for item in value)


class Tally:
    """Counts, by resource type, the resources left out and those with an unreadable date."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def left_out(self, kind: str, element: str) -> None:
        self.counts[(kind, "left_out")] += 1
        log.warning("resource left out", extra={"resource_type": kind, "reason": element})

    def undated(self, kind: str) -> None:
        self.counts[(kind, "undated")] += 1

    def frozen(self) -> MappingProxyType[tuple[str, str], int]:
        return MappingProxyType(dict(sorted(self.counts.items())))
