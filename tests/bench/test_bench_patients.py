"""The benchmark's synthetic patients: deterministic, the sizes issue 8 asks for, valid
FHIR R4B, and every code a rule reads taken from the project's clinical knowledge."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B import get_fhir_model_class

from bench.patients import (
    ICD10,
    LOINC,
    NOISE_CONDITIONS,
    NOISE_DRUGS,
    NOISE_OBSERVATIONS,
    RXNORM,
    make_patient,
)

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
# Codes the rules read (docs/clinical-rules.md §1, §2, knowledge.md): families by prefix.
READ_ICD10_PREFIXES = ("D89.4", "D47.0", "Q82.2", "C96.2", "C94.3", "T78.", "T88.6",
                       "T80.5", "Z87.892", "R06.")
MEDIATOR_LOINCS = {"21582-2", "44340-8", "13781-0", "33343-5", "101115-4", "94381-1",
                   "97658-9", "14054-1", "34316-0"}
KNOWN_RXNORM_USED = {"1014678", "4278", "1870230"}  # knowledge.md: cetirizine, famotidine, EpiPen


def _resources(patient) -> list[dict]:
    found = []
    for value in patient.request["prefetch"].values():
        if value["resourceType"] == "Bundle":
            found.extend(entry["resource"] for entry in value["entry"])
        else:
            found.append(value)
    return found


def test_same_seed_and_day_give_the_same_bytes() -> None:
    later_same_day = NOW.replace(hour=22)
    assert make_patient("heavy", now=NOW).body == make_patient("heavy", now=later_same_day).body
    assert make_patient("heavy", now=NOW).body != make_patient("heavy", seed=9, now=NOW).body


@pytest.mark.parametrize(
    ("name", "observations"), [("heavy", 1000), ("extreme", 5000)]
)
def test_large_patients_have_the_sizes_of_issue_8(name: str, observations: int) -> None:
    patient = make_patient(name, now=NOW)
    assert patient.counts["observations"] == observations
    assert patient.counts["conditions"] == 200
    assert patient.counts["medicationStatements"] + patient.counts["medicationRequests"] == 100
    mediators = [r for r in _resources(patient) if r["resourceType"] == "Observation"
                 and r["code"]["coding"][0]["code"] in MEDIATOR_LOINCS]
    assert 18 <= len(mediators) <= 22
    assert json.loads(patient.body) == patient.request


def test_typical_patient_has_about_40_resources() -> None:
    assert 35 <= make_patient("typical", now=NOW).resource_count <= 45


@pytest.mark.parametrize("name", ["typical", "heavy"])
def test_every_resource_is_valid_fhir_r4b(name: str) -> None:
    for resource in _resources(make_patient(name, now=NOW)):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_noise_codes_are_never_codes_the_rules_read() -> None:
    assert not any(code.startswith(READ_ICD10_PREFIXES) for code, _ in NOISE_CONDITIONS)
    assert not {code for code, *_ in NOISE_OBSERVATIONS} & MEDIATOR_LOINCS
    assert not {code for code, _ in NOISE_DRUGS} & KNOWN_RXNORM_USED


def test_codes_the_rules_read_come_from_the_clinical_knowledge() -> None:
    noise_conditions = {code for code, _ in NOISE_CONDITIONS}
    noise_drugs = {code for code, _ in NOISE_DRUGS}
    noise_obs = {code for code, *_ in NOISE_OBSERVATIONS}
    for name in ("typical", "heavy"):
        for resource in _resources(make_patient(name, now=NOW)):
            kind = resource["resourceType"]
            if kind == "Condition":
                coding = resource["code"]["coding"][0]
                assert coding["system"] == ICD10
                assert coding["code"] in noise_conditions or coding["code"].startswith(
                    ("D89.42", "T78.2XX", "Z87.892", "R06.2"))
            elif kind == "Observation":
                coding = resource["code"]["coding"][0]
                assert coding["system"] == LOINC
                assert coding["code"] in noise_obs | MEDIATOR_LOINCS
            elif kind.startswith("Medication"):
                coding = resource["medicationCodeableConcept"]["coding"][0]
                assert coding["system"] == RXNORM
                assert coding["code"] in noise_drugs | KNOWN_RXNORM_USED
