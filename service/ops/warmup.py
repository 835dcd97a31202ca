"""Warm the FHIR R4B models before gunicorn forks its workers.

Importing a fhir.resources model and validating its first resource builds pydantic
validators (a tenth of a second per model tree). Done once in the gunicorn master, with
the app preloaded, the workers inherit the result through fork and share its memory, and
the first hook a fresh worker answers costs no more than the thousandth.

``WARM_MODELS`` lists every R4B model the service validates; a test fails when the facts
validator accepts a type, or a module imports a model, that is not listed here.
"""

from __future__ import annotations

import importlib
from typing import Any

# One tiny valid resource per model: enough to build every nested validator it uses.
WARM_MODELS: dict[str, dict[str, Any]] = {
    "Condition": {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/warm-up"},
        "code": {"coding": [{"system": "http://example.org/warm-up", "code": "x"}]},
        "clinicalStatus": {"coding": [{"system": "http://example.org/warm-up", "code": "x"}]},
        "onsetDateTime": "2020-01-01",
        "recordedDate": "2020-01-01",
    },
    "Observation": {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://example.org/warm-up", "code": "x"}]},
        "subject": {"reference": "Patient/warm-up"},
        "effectiveDateTime": "2020-01-01T00:00:00Z",
        "valueQuantity": {"value": 1, "unit": "ng/mL", "system": "http://unitsofmeasure.org"},
        "referenceRange": [{"low": {"value": 0}, "high": {"value": 1}}],
    },
    "MedicationStatement": {
        "resourceType": "MedicationStatement",
        "status": "active",
        "subject": {"reference": "Patient/warm-up"},
        "medicationCodeableConcept": {"text": "warm-up"},
        "effectivePeriod": {"start": "2020-01-01"},
        "dosage": [{"text": "warm-up"}],
    },
    "MedicationRequest": {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/warm-up"},
        "medicationCodeableConcept": {"text": "warm-up"},
        "authoredOn": "2020-01-01",
        "dosageInstruction": [{"text": "warm-up"}],
    },
    "Medication": {
        "resourceType": "Medication",
        "code": {"coding": [{"system": "http://example.org/warm-up", "code": "x"}]},
        "ingredient": [{"itemCodeableConcept": {"text": "warm-up"}}],
    },
}


def warm_fhir_models() -> list[str]:
    """Import and validate one resource per model; returns the models warmed."""
    warmed = []
    for name, resource in WARM_MODELS.items():
        module = importlib.import_module(f"fhir.resources.R4B.{name.lower()}")
        getattr(module, name).model_validate(resource)
        warmed.append(name)
    return warmed
