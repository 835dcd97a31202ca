"""Warm the FHIR R4B models before gunicorn forks its workers.

Importing a fhir.resources model and validating its first value builds pydantic
validators (a tenth of a second per model tree). Done once in the gunicorn master, with
the app preloaded, the workers inherit the result through fork and share its memory, and
the first hook a fresh worker answers costs no more than the thousandth.

``WARM_MODELS`` lists every R4B model the service validates: the datatypes of the elements
the rules read (docs/clinical-rules.md §2: resources are validated element by element, not
whole). A test fails when the facts validator accepts a type, or a module imports a
model, that is not listed here.
"""

from __future__ import annotations

import importlib
from typing import Any

from service.pipeline.facts.timeutil import parse_fhir_date, parse_fhir_time

_CODING = {"system": "http://example.org/warm-up", "code": "x", "display": "warm-up"}
# One tiny valid value per model: enough to build every nested validator it uses.
WARM_MODELS: dict[str, dict[str, Any]] = {
    "CodeableConcept": {"coding": [_CODING], "text": "warm-up"},
    "Quantity": {"value": 1, "comparator": "<", "unit": "ng/mL", "code": "ng/mL",
                 "system": "http://unitsofmeasure.org"},
    "Reference": {"reference": "Medication/warm-up"},
    "Period": {"start": "2020-01-01", "end": "2020-01-02T00:00:00Z"},
    "Range": {"low": {"value": 0}, "high": {"value": 1}},
    "Timing": {"repeat": {"frequency": 1, "period": 4, "periodUnit": "wk",
                          "boundsDuration": {"value": 14, "unit": "d"}}},
    "Duration": {"value": 14, "unit": "d", "code": "d", "system": "http://unitsofmeasure.org"},
}


def warm_fhir_models() -> list[str]:
    """Import and validate one resource per model; returns the models warmed."""
    warmed = []
    for name, resource in WARM_MODELS.items():
        module = importlib.import_module(f"fhir.resources.R4B.{name.lower()}")
        getattr(module, name).model_validate(resource)
        warmed.append(name)
    parse_fhir_time("2020-01-01T00:00:00Z")  # the dateTime and date validators
    parse_fhir_date("2020-01-01")
    return warmed
