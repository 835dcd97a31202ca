"""Tryptase, by the "20% + 2" rule only (docs/clinical-rules.md §2 "Tryptase", §6.7).

When a tryptase (ng/mL or ug/L, which are equal) was taken within
tryptase_acute_window_hours of the first event of an anaphylaxis episode cluster (before
or after), it is acute; the baseline is the lowest tryptase taken more than that window
away from every cluster. Then tryptase is elevated when an acute value is above
tryptase_factor x baseline + tryptase_addend. Without both an acute value and a
baseline, tryptase is not evidence: a single value, flagged or not, never is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from service.pipeline.facts.model import Result
from service.pipeline.rules.model import Cluster, MediatorFinding, day
from service.thresholds.model import Thresholds


def _usable(results: Iterable[Result]) -> list[tuple[datetime, float, Result]]:
    """(when, value, result) of the dated tryptase values in ng/mL or ug/L, oldest first."""
    found = []
    for r in results:
        units = {r.expected_unit, *r.unit_synonyms} - {None}
        if r.tryptase and r.value is not None and r.when is not None and r.unit in units:
            found.append((r.when, r.value, r))
    return sorted(found, key=lambda item: item[0])


def assess_tryptase(
    results: Iterable[Result], episodes: tuple[Cluster, ...], thresholds: Thresholds
) -> tuple[MediatorFinding, ...]:
    """One finding per acute tryptase compared with the baseline (none without a pair)."""
    usable = _usable(results)
    window = timedelta(hours=thresholds.tryptase_acute_window_hours)

    def near(when: datetime) -> bool:
        return any(abs(when - c.start) <= window for c in episodes)

    acute = [item for item in usable if near(item[0])]
    baselines = [item for item in usable if not near(item[0])]
    if not acute or not baselines:
        return ()
    base_when, base_value, baseline = min(baselines, key=lambda item: item[1])
    limit = thresholds.tryptase_factor * base_value + thresholds.tryptase_addend
    findings = []
    for _, value, result in acute:
        above = value > limit
        reason = (
            f"acute {value:g} {result.unit} is {'above' if above else 'not above'} "
            f"{thresholds.tryptase_factor:g} x baseline {base_value:g} {baseline.unit} "
            f"({day(base_when)}) + {thresholds.tryptase_addend:g} = {limit:.2f} ng/mL"
        )
        findings.append(MediatorFinding(result, above, reason, baseline=baseline))
    return tuple(findings)
