"""Tryptase by the consensus "20% + 2" rule (docs/clinical-rules.md §2 "Tryptase", §6.22).

- Anchors: every anaphylaxis episode Condition (suspected, triggered and merged follow-ups
  included; a follow-up dated only by its recorded date anchors at that date).
- **Acute** for an anchor: taken from 1 h before to ``tryptase_acute_window_hours`` after
  its onset; when the onset is a date only, a tryptase written on that same date is acute
  with its timing unverified.
- Never a **baseline**: taken from 1 h before to ``tryptase_baseline_gap_hours`` after the
  onset of any anchor. The baseline of an acute value is the eligible tryptase nearest to
  it in time (equally near: the higher).
- **Elevated** when acute > 1.2 x baseline + 2 ng/mL (fixed, not settings). A "<x" acute
  value is never elevated; a "<x" baseline is taken as x; ">x" is x.
- A baseline of at least ``tryptase_sm_flag`` ng/mL is a **systemic mastocytosis flag**.
A single tryptase, flagged or not, is never evidence by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from service.pipeline.facts.model import Event, Result
from service.pipeline.rules.model import MediatorFinding, Note, day, note
from service.pipeline.rules.trace import NO_TRACE, Recorder
from service.thresholds.model import Thresholds

# The consensus "20% + 2" rule: elevated when acute > 1.2 x baseline + 2 ng/mL.
TRYPTASE_FACTOR = 1.2
TRYPTASE_ADDEND_NG_ML = 2.0
_BEFORE = timedelta(hours=1)


@dataclass(frozen=True)
class TryptaseReading:
    findings: tuple[MediatorFinding, ...]  # one per acute value that has a baseline
    notes: tuple[Note, ...]  # each tryptase with its role
    sm_flag: float | None  # the highest eligible baseline at or above the flag, ng/mL
    results: tuple[Result, ...]  # every tryptase on record


def _fmt(value: float) -> str:
    return f"{value:g}"


def _acute_for(result: Result, anchor: Event, window: timedelta) -> str | None:
    """"timed" or "unverified" when ``result`` is acute for ``anchor``; None otherwise."""
    onset, when = anchor.when, result.when
    if onset is None or when is None:
        return None
    if anchor.date_only:
        same_date = result.written_date is not None and result.written_date == anchor.written_date
        return "unverified" if same_date else None
    return "timed" if onset - _BEFORE <= when <= onset + window else None


def anchors(events: Iterable[Event]) -> list[Event]:
    return [e for e in events if e.kind == "anaphylaxis" and e.when is not None]


def assess_tryptase(
    results: Iterable[Result], events: Iterable[Event], thresholds: Thresholds,
    trace: Recorder = NO_TRACE,
) -> TryptaseReading:
    tryptase = [r for r in results if r.tryptase]
    points = anchors(events)
    window = timedelta(hours=thresholds.tryptase_acute_window_hours)
    gap = timedelta(hours=thresholds.tryptase_baseline_gap_hours)
    notes: list[Note] = []
    acute: list[tuple[Result, str, Event]] = []
    eligible: list[Result] = []
    for result in tryptase:
        if result.unit != result.expected_unit or result.value is None:
            notes.append(note("tryptase.unused_unit", value=_fmt(result.raw_value or 0),
                              date=day(result.when), unit=result.raw_unit or "none"))
            continue
        if result.when is None:
            notes.append(note("tryptase.unused_undated", value=_fmt(result.value)))
            continue
        found = next(((a, how) for a in points
                      if (how := _acute_for(result, a, window)) is not None), None)
        if found is not None:
            acute.append((result, found[1], found[0]))
            continue
        near = any(
            a.when is not None and a.when - _BEFORE <= result.when <= a.when + gap
            for a in points
        )
        if near:
            notes.append(note("tryptase.unused_near_episode", value=_fmt(result.value),
                              date=day(result.when)))
        else:
            eligible.append(result)
    findings: list[MediatorFinding] = []
    used: set[int] = set()
    for result, how, anchor in acute:
        assert result.when is not None and result.value is not None
        if how == "unverified":
            notes.append(note("tryptase.acute_unverified", value=_fmt(result.value),
                              date=day(result.when)))
        else:
            assert anchor.when is not None
            hours = (result.when - anchor.when).total_seconds() / 3600
            notes.append(note("tryptase.acute", value=_fmt(result.value), date=day(result.when),
                              hours=f"{hours:.1f}"))
        baseline = _nearest(result, eligible)
        if baseline is None:
            continue
        used.add(id(baseline))
        finding = _compare(result, baseline)
        if trace.enabled:
            limit = round(TRYPTASE_FACTOR * (baseline.value or 0) + TRYPTASE_ADDEND_NG_ML, 2)
            trace.compare("tryptase.20_percent_plus_2", result.value, "ng/mL", limit, ">",
                          finding.elevated,
                          f"acute {day(result.when)} against baseline {baseline.value:g} "
                          f"ng/mL ({day(baseline.when)}): {TRYPTASE_FACTOR:g} x baseline + "
                          f"{TRYPTASE_ADDEND_NG_ML:g}")
        findings.append(finding)
    for result in eligible:
        assert result.value is not None
        key = "tryptase.baseline" if id(result) in used else "tryptase.unused_no_pair"
        notes.append(note(key, value=_fmt(result.value), date=day(result.when)))
    flagged = [r.value for r in eligible if r.value is not None
               and r.value >= thresholds.tryptase_sm_flag]
    if trace.enabled:
        for r in eligible:
            if r.value is not None:
                trace.compare("tryptase.sm_flag", r.value, "ng/mL", thresholds.tryptase_sm_flag,
                              ">=", r.value >= thresholds.tryptase_sm_flag,
                              f"baseline {day(r.when)}")
    return TryptaseReading(tuple(findings), tuple(notes), max(flagged, default=None),
                           tuple(tryptase))


def _nearest(acute: Result, eligible: list[Result]) -> Result | None:
    def distance(candidate: Result) -> tuple[float, float]:
        assert candidate.when is not None and acute.when is not None
        assert candidate.value is not None
        return abs((candidate.when - acute.when).total_seconds()), -candidate.value
    return min(eligible, key=distance, default=None)


def _compare(acute: Result, baseline: Result) -> MediatorFinding:
    assert acute.value is not None and baseline.value is not None
    limit = TRYPTASE_FACTOR * baseline.value + TRYPTASE_ADDEND_NG_ML
    below = acute.comparator in {"<", "<="}
    above = acute.value > limit and not below
    shown = f"{acute.comparator or ''}{_fmt(acute.value)}"
    base = f"{baseline.comparator or ''}{_fmt(baseline.value)}"
    reason = (
        f"acute {shown} ng/mL is {'above' if above else 'not above'} "
        f"{TRYPTASE_FACTOR:g} x baseline {base} ng/mL ({day(baseline.when)}) + "
        f"{TRYPTASE_ADDEND_NG_ML:g} = {limit:.2f} ng/mL"
    )
    return MediatorFinding(acute, above, reason, baseline=baseline)

