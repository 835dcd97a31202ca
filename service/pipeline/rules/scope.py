"""Who is in scope (docs/clinical-rules.md §1, §6.11, §6.12, §6.28).

When: a Condition coded as MCAS (ICD-10-CM D89.40-D89.43, D89.49 or SNOMED
16697871000119100; D89.44 alone does not count) with clinicalStatus active, recurrence,
relapse, or absent without an abatement, and verificationStatus neither entered-in-error
nor refuted. Diagnoses dated after now are ignored.
Then: in scope. Clonal disease on record (mastocytosis, mast cell leukaemia: any status
or date, read from the raw codes) keeps the patient in scope but suppresses every
treatment card (ladder, mediator-evidence, biologic-review); the safety cards are still
evaluated. When every MCAS Condition is provisional, differential or unconfirmed, only
tier-1, mediator-evidence and the safety cards may be shown. D89.41 counts (monoclonal
MCAS) when it is the code of an in-scope MCAS Condition.
"""

from __future__ import annotations

from datetime import datetime

from service.pipeline.facts.model import Diagnosis, Facts
from service.pipeline.rules.model import Scope
from service.pipeline.rules.timeline import present


def _clonal(diagnoses: tuple[Diagnosis, ...]) -> Diagnosis | None:
    return next((d for d in diagnoses if d.kind == "clonal"), None)


def scope(facts: Facts, now: datetime) -> Scope:
    diagnoses = present(facts, now).diagnoses
    mcas = [d for d in diagnoses if d.kind == "mcas" and d.active]
    if not mcas:
        return Scope(in_scope=False)
    clonal = _clonal(diagnoses)
    monoclonal = any(d.kind == "monoclonal_mcas" and d.active for d in diagnoses)
    return Scope(
        in_scope=True,
        confirmed=any(d.confirmed for d in mcas),
        clonal=clonal.code if clonal is not None else None,
        monoclonal=monoclonal,
    )
