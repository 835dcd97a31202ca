"""Mediator elevation (docs/clinical-rules.md §2 "Mediator results", §6.7).

After unit normalisation (facts layer), a result in the analyte's expected UCUM unit whose
analyte has a threshold is elevated when its value is above the threshold, even against an
H flag (adults only: for a child, or an unknown age, the lab's own range and flags decide).
Otherwise (another unit, no threshold as for prostaglandin D2, a child): elevated when its
interpretation is H, HH or A, or its value (as the lab sent it) is above the lab's
reference range (``high``, else a bound in its text). With none of these it is **not
assessable**: never elevated, and never shown as "within range". A "<x" or "<=x" value is
never elevated; ">x" is read as x.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.pipeline.facts.model import Result
from service.pipeline.rules.model import MediatorFinding
from service.pipeline.rules.trace import NO_TRACE, Recorder
from service.thresholds.model import Thresholds

_FLAGS = frozenset({"H", "HH", "A"})
_BELOW = frozenset({"<", "<="})


def _fmt(value: float) -> str:
    return f"{value:g}"


def shown_value(result: Result, *, raw: bool = False) -> str:
    value = result.raw_value if raw else result.value
    unit = (result.raw_unit if raw else result.unit) or ""
    if value is None:
        return "no numeric value"
    return f"{result.comparator or ''}{_fmt(value)} {unit}".strip()


def assess(result: Result, thresholds: Thresholds, *, adult: bool = True,
           trace: Recorder = NO_TRACE) -> MediatorFinding:
    threshold = (
        thresholds.mediator_thresholds.get(result.threshold_key)
        if result.threshold_key is not None and adult else None
    )
    value, unit = result.value, result.unit or ""
    below = result.comparator in _BELOW
    shown = shown_value(result)
    if threshold is not None and value is not None and unit and unit == result.expected_unit:
        above = value > threshold and not below
        if trace.enabled:  # the detail text is built only for explain
            trace.compare(f"mediator.{result.analyte}", value, unit, threshold, ">", above,
                          f"{result.display} on {_date(result)}"
                          + (f" (reported as {result.comparator}{_fmt(value)})" if below
                             else ""))
        word = "above" if above else "not above"
        return MediatorFinding(
            result, above, f"{shown} is {word} the threshold {_fmt(threshold)} {unit}"
        )
    flags = sorted(result.interpretation & _FLAGS)
    if flags:
        if below:
            return MediatorFinding(result, False, f"{shown}: a value below a limit is never "
                                                  "elevated")
        return MediatorFinding(result, True, f"{shown}, flagged {'/'.join(flags)} by the lab")
    high, raw = result.reference_high, result.raw_value
    if high is not None and raw is not None:
        above = raw > high and not below
        if trace.enabled:
            trace.compare(f"mediator.{result.analyte}.reference_range", raw,
                          result.raw_unit or "", high, ">", above,
                          f"{result.display} on {_date(result)}, the lab's range")
        word = "above" if above else "within"
        return MediatorFinding(result, above, f"{shown_value(result, raw=True)} is {word} the "
                                              f"lab's reference range (upper limit {_fmt(high)})")
    if result.interpretation:
        return MediatorFinding(result, False, f"{shown}, not flagged as abnormal by the lab")
    return MediatorFinding(result, False, f"{shown_value(result, raw=True)}: cannot be assessed",
                           assessable=False)


def assess_all(
    results: Iterable[Result], thresholds: Thresholds, *, adult: bool = True,
    trace: Recorder = NO_TRACE,
) -> tuple[MediatorFinding, ...]:
    """Every non-tryptase mediator result, assessed (tryptase: see tryptase.py)."""
    return tuple(
        assess(r, thresholds, adult=adult, trace=trace) for r in results if not r.tryptase
    )


def _date(result: Result) -> str:
    return result.when.strftime("%Y-%m-%d") if result.when is not None else "an unknown date"
