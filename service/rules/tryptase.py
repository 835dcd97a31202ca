"""Tryptase, by the "20% + 2" rule only (rules.md 2 "Tryptase", 6.7).

When a tryptase (ng/mL or ug/L, which are equal) was taken within
tryptase_acute_window_hours of the first event of an anaphylaxis episode cluster (before
or after), it is acute; the baseline is the lowest tryptase taken more than that window
away from every cluster. Then tryptase is elevated when an acute value is above
tryptase_factor x baseline + tryptase_addend. Without both an acute value and a
baseline, tryptase is not evidence: a single value, flagged or not, never is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from ..facts.model import Result
from ..thresholds import Thresholds
from .model import Cluster, MediatorFinding, day


def _usable(result: Result) -> bool:
    units = {result.expected_unit, *result.unit_synonyms} - {None}
    return (result.tryptase and result.value is not None and result.when is not None
            and result.unit in units)


def assess_tryptase(
    results: Iterable[Result], episodes: tuple[Cluster, ...], thresholds: Thresholds
) -> tuple[MediatorFinding, ...]:
    """One finding per acute tryptase compared with the baseline (none without a pair)."""
    usable = [r for r in results if _usable(r)]
    window = timedelta(hours=thresholds.tryptase_acute_window_hours)

    def near(result: Result) -> bool:
        return any(abs(result.when - c.start) <= window for c in episodes)  # type: ignore[operator]

    acute = [r for r in usable if near(r)]
    baselines = [r for r in usable if not near(r)]
    if not acute or not baselines:
        return ()
    baseline = min(baselines, key=lambda r: r.value)  # type: ignore[arg-type,return-value]
    limit = thresholds.tryptase_factor * baseline.value + thresholds.tryptase_addend  # type: ignore[operator]
    findings = []
    for result in sorted(acute, key=lambda r: r.when):  # type: ignore[arg-type,return-value]
        above = result.value > limit  # type: ignore[operator]
        reason = (
            f"acute {result.value:g} {result.unit} is {'above' if above else 'not above'} "
            f"{thresholds.tryptase_factor:g} x baseline {baseline.value:g} {baseline.unit} "
            f"({day(baseline.when)}) + {thresholds.tryptase_addend:g} = {limit:.2f} ng/mL"
        )
        findings.append(MediatorFinding(result, above, reason, baseline=baseline))
    return tuple(findings)
