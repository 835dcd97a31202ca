"""The patient's age (docs/clinical-rules.md §2 "Patient facts", §6.26).

Age comes from ``Patient.birthDate`` (prefetch ``patient``). A partial birthDate ("2008",
"2008-05") counts as the latest day it can mean, so an uncertain age is never read as
older than it may be. No Patient, or no readable birthDate: age unknown (the rules then
treat the patient as a child).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from service.pipeline.facts.timeutil import parse_fhir_date


def birth_date(patient: dict[str, Any] | None) -> date | None:
    if patient is None:
        return None
    found = parse_fhir_date(patient.get("birthDate"))
    return found[1] if found is not None else None


def age_on(born: date, now: datetime) -> int:
    """Completed years on the evaluation date (UTC); a 29 February birthday falls on 1 March."""
    today = now.date()
    years = today.year - born.year
    if (today.month, today.day) < (born.month, born.day):
        years -= 1
    return years
