"""Objective mediator evidence and the mediator-evidence card.

docs/clinical-rules.md §2, §4, §6.9.

Objective mediator evidence = an elevated tryptase by the 20% + 2 rule, or an elevated
urine or plasma marker collected within 24 h after the onset of an anaphylaxis episode
(a 24-hour urine: its collection period overlaps that window; the same anchors as
tryptase), or the same marker elevated on 2 separate dates.

mediator-evidence when: no objective mediator evidence is on record (a single elevated
result at another time, or a single tryptase, is not). Not shown when the observations
are unavailable: missing data is not absent data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from service.pipeline.facts.model import Event, Facts
from service.pipeline.rules.model import Decision, MediatorFinding, Note, day, note
from service.pipeline.rules.tryptase import anchors

_AFTER_ONSET = timedelta(hours=24)


@dataclass(frozen=True)
class Evidence:
    found: bool
    # the findings that make it (elevated, and timed or repeated), for the card
    decisive: tuple[MediatorFinding, ...]


def _near_episode(finding: MediatorFinding, points: list[Event]) -> bool:
    result = finding.result
    if result.when is None:
        return False
    end = result.period_end or result.when
    for anchor in points:
        assert anchor.when is not None
        if result.when <= anchor.when + _AFTER_ONSET and end >= anchor.when:
            return True
    return False


def objective_evidence(
    markers: Iterable[MediatorFinding], tryptase: Iterable[MediatorFinding],
    events: Iterable[Event],
) -> Evidence:
    decisive = [f for f in tryptase if f.elevated]
    points = anchors(events)
    elevated = [f for f in markers if f.elevated]
    for finding in elevated:
        if _near_episode(finding, points):
            decisive.append(finding)
    by_analyte: dict[str, set[str]] = {}
    for finding in elevated:
        if finding.result.when is not None:
            by_analyte.setdefault(finding.result.analyte, set()).add(day(finding.result.when))
    for finding in elevated:
        dates = by_analyte.get(finding.result.analyte, set())
        if len(dates) >= 2 and finding not in decisive:
            decisive.append(finding)
    return Evidence(bool(decisive), tuple(decisive))


def mediator_evidence(
    facts: Facts, evidence: Evidence, findings: tuple[MediatorFinding, ...],
    notes: tuple[Note, ...] = (),
) -> Decision | None:
    if "observations" in facts.unavailable or evidence.found:
        return None
    elevated = [f for f in findings if f.elevated]
    reasons = [note("mediator.none_on_record" if not facts.results
                    else "mediator.none_objective")]
    if elevated:
        reasons.append(note("mediator.elevated_not_timed", count=len(elevated)))
    tryptase = [r for r in facts.results if r.tryptase]
    if tryptase and not any(f.result.tryptase for f in findings):
        reasons.append(note("mediator.single_tryptase", count=len(tryptase)))
    return Decision(topic="mediator-evidence", mediators=findings,
                    notes=(*reasons, note("evidence.none"), *notes))
