"""Data and apps for the FHIR fallback tests: the Sandbox patient (and a few more) to load
into a FHIR server, hook requests that point at one, and an app allowed to read from it.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask

from service import create_app
from tests.support.paths import load_recording
from tests.support.sekmet_server import TOKEN

SANDBOX_PATIENT = "mcas-1"
PAGED_PATIENT = "paged-1"
PAGED_OBSERVATIONS = 45  # sekmet pages at 20: three pages


def sandbox_body() -> dict[str, Any]:
    return copy.deepcopy(load_recording("hook-request.json")["body"])


def sandbox_resources() -> list[dict[str, Any]]:
    """Every resource of the Sandbox's recorded prefetch, once."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for value in sandbox_body()["prefetch"].values():
        entries = (
            [e["resource"] for e in value.get("entry", [])]
            if value["resourceType"] == "Bundle"
            else [value]
        )
        for resource in entries:
            found[(resource["resourceType"], resource["id"])] = resource
    return list(found.values())


def outside_the_queries() -> list[dict[str, Any]]:
    """What the Sandbox's FHIR server also held and its prefetch rightly left out."""
    subject = {"reference": f"Patient/{SANDBOX_PATIENT}"}
    return [
        {
            "resourceType": "Observation",
            "id": "mcas-obs-hemoglobin",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            "subject": subject,
            "effectiveDateTime": "2026-08-21",
            "valueQuantity": {"value": 13.1, "unit": "g/dL", "code": "g/dL"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mcas-mr-prednisone",
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": {"text": "prednisone 20 MG Oral Tablet"},
            "subject": subject,
            "authoredOn": "2026-08-21",
        },
    ]


def paged_patient() -> list[dict[str, Any]]:
    subject = {"reference": f"Patient/{PAGED_PATIENT}"}
    resources: list[dict[str, Any]] = [{"resourceType": "Patient", "id": PAGED_PATIENT}]
    for n in range(PAGED_OBSERVATIONS):
        resources.append(
            {
                "resourceType": "Observation",
                "id": f"paged-obs-{n}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "21582-2"}]},
                "subject": subject,
                "effectiveDateTime": f"2026-{1 + n % 10:02d}-{1 + n % 28:02d}",
                "valueQuantity": {"value": 5 + n / 10, "unit": "ng/mL", "code": "ng/mL"},
            }
        )
    return resources


MEDREF_PATIENT = "medref-1"


def medication_reference_patient() -> list[dict[str, Any]]:
    """Drugs named only through medicationReference, as many EHRs record them."""
    subject = {"reference": f"Patient/{MEDREF_PATIENT}"}
    return [
        {"resourceType": "Patient", "id": MEDREF_PATIENT},
        {
            "resourceType": "Medication",
            "id": "med-levocetirizine",
            "code": {"text": "Xyzal (levocetirizine) 5 mg tablet"},
        },
        {
            "resourceType": "MedicationStatement",
            "id": "medref-ms-1",
            "status": "active",
            "medicationReference": {"reference": "Medication/med-levocetirizine"},
            "subject": subject,
        },
        {
            "resourceType": "MedicationStatement",
            "id": "medref-ms-2",
            "status": "active",
            "medicationReference": {"reference": "Medication/med-levocetirizine"},
            "subject": subject,
        },
        {
            "resourceType": "MedicationStatement",
            "id": "medref-ms-3",
            "status": "active",
            "medicationReference": {"reference": "Medication/deleted-long-ago"},
            "subject": subject,
        },
    ]


def make_app(allowed: list[str], **config: Any) -> Flask:
    # These tests are about FHIR data: not about the EHR's JWT, nor about card storage.
    base = {"TESTING": True, "AUTH_DISABLED": True, "RECORD_CARDS": False}
    return create_app({**base, "FHIR_ALLOWED_SERVERS": allowed, **config})


def hook_body(
    fhir_server: str | None,
    prefetch: dict[str, Any] | None,
    *,
    token: str | None = TOKEN,
    patient_id: str = SANDBOX_PATIENT,
) -> dict[str, Any]:
    body = sandbox_body()
    body["context"]["patientId"] = patient_id
    if prefetch is None:
        del body["prefetch"]
    else:
        body["prefetch"] = prefetch
    if fhir_server is None:
        del body["fhirServer"]
    else:
        body["fhirServer"] = fhir_server
    if token is not None:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Condition.read user/Observation.read",
            "subject": "mcas-cds",
        }
    return body
