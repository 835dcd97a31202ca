"""Who is in scope (docs/clinical-rules.md §1, §6.11, §6.12).

When: a Condition coded as MCAS (ICD-10-CM D89.40-D89.43, D89.49 or SNOMED
16697871000119100; D89.44 alone does not count) with clinicalStatus active, recurrence,
relapse or absent, and verificationStatus neither entered-in-error nor refuted.
Then: in scope, unless an active mastocytosis or mast cell leukaemia Condition (D47.01,
D47.02, D47.09, Q82.2, C96.2*, C94.3*) puts the patient on the haematology pathway.
When every MCAS Condition is provisional, differential or unconfirmed, the patient is in
scope but only tier-1, mediator-evidence and the safety cards may be shown. Diagnoses
dated after now are ignored.
"""

from __future__ import annotations

from datetime import datetime

from service.pipeline.facts.model import Facts
from service.pipeline.rules.model import Scope
from service.pipeline.rules.timeline import present


def scope(facts: Facts, now: datetime) -> Scope:
    diagnoses = present(facts, now).diagnoses
    mcas = [d for d in diagnoses if d.kind == "mcas" and d.active]
    clonal = any(d.kind == "clonal" and d.active for d in diagnoses)
    if not mcas or clonal:
        return Scope(in_scope=False)
    return Scope(in_scope=True, confirmed=any(d.confirmed for d in mcas))
