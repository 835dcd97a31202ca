"""The mediator-evidence card (docs/clinical-rules.md §4, §6.9).

When: no elevated mediator result is on record (urinary N-methylhistamine, leukotriene E4,
2,3-dinor-11beta-PGF2alpha, prostaglandin D2, plasma histamine by their thresholds or
flags; tryptase only by the 20% + 2 rule). Then: remind that the diagnosis needs
objective documentation of mediators during attacks. Not shown when the observations
are unavailable: missing data is not absent data.
"""

from __future__ import annotations

from service.pipeline.facts.model import Facts
from service.pipeline.rules.model import Decision, MediatorFinding


def mediator_evidence(facts: Facts, findings: tuple[MediatorFinding, ...]) -> Decision | None:
    if "observations" in facts.unavailable or any(f.elevated for f in findings):
        return None
    tryptase = [r for r in facts.results if r.tryptase]
    reasons = ["No mast cell mediator result on record is elevated."
               if facts.results else "No mast cell mediator result is on record."]
    if tryptase and not any(f.result.tryptase for f in findings):
        reasons.append(
            f"{len(tryptase)} tryptase result(s) on record, but no acute value with a "
            "baseline to apply the 20% + 2 rule: a single tryptase is never evidence."
        )
    return Decision(topic="mediator-evidence", reasons=tuple(reasons), mediators=findings)
