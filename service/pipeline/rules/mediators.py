"""Mediator elevation (docs/clinical-rules.md §2 "Mediator results", §6.7).

When a result (final, amended or corrected) is in the analyte's expected UCUM unit
(valueQuantity.code, else .unit, equal exactly) and the analyte has a threshold: then it
is elevated when its value is above the threshold, even against an H flag. Otherwise
(unit differs, or no threshold, as for prostaglandin D2): elevated when its
interpretation is H, HH or A, or its value is above its own referenceRange.high.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.pipeline.facts.model import Result
from service.pipeline.rules.model import MediatorFinding
from service.thresholds.model import Thresholds

_FLAGS = frozenset({"H", "HH", "A"})


def _fmt(value: float) -> str:
    return f"{value:g}"


def assess(result: Result, thresholds: Thresholds) -> MediatorFinding:
    threshold = (
        thresholds.mediator_thresholds.get(result.threshold_key)
        if result.threshold_key is not None else None
    )
    value, unit = result.value, result.unit or ""
    shown = f"{_fmt(value)} {unit}".strip() if value is not None else "no numeric value"
    if threshold is not None and value is not None and unit and unit == result.expected_unit:
        above = value > threshold
        word = "above" if above else "not above"
        return MediatorFinding(
            result, above, f"{shown} is {word} the threshold {_fmt(threshold)} {unit}"
        )
    flags = sorted(result.interpretation & _FLAGS)
    if flags:
        return MediatorFinding(result, True, f"{shown}, flagged {'/'.join(flags)} by the lab")
    high = result.reference_high
    if value is not None and high is not None and value > high:
        return MediatorFinding(
            result, True, f"{shown} is above the lab's reference range (high {_fmt(high)})"
        )
    why = "no threshold applies in this unit" if threshold is not None else "no threshold set"
    return MediatorFinding(result, False, f"{shown}: not flagged and within range ({why})")


def assess_all(results: Iterable[Result], thresholds: Thresholds) -> tuple[MediatorFinding, ...]:
    """Every non-tryptase mediator result, assessed (tryptase: see tryptase.py)."""
    return tuple(assess(r, thresholds) for r in results if not r.tryptase)
