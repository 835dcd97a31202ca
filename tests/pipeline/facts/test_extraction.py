"""Facts extraction: filter first, validate only what matters, skip what is malformed."""

from __future__ import annotations

import logging

import pytest

from tests.support.fhir_builders import ago, condition, facts_of, mcas, medication, observation


def test_faults_outside_the_elements_read_keep_the_resource_and_a_bad_date_makes_it_undated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/clinical-rules.md §2 "Reading a resource": an unknown element never drops a
    resource; an unreadable date makes it undated (counted); an unreadable status drops it
    (counted), and nothing of its content is logged."""
    odd = condition("T78.2XXA", onset=ago(3), unexpected_field="secret-value")
    undated = observation("33343-5", 180, "pg/mg{creat}", when="not a date")
    bad_status = condition("R06.1", onset=ago(4), clinical=None,
                           clinicalStatus={"coding": "secret-status"})
    with caplog.at_level(logging.WARNING):
        facts = facts_of([mcas(), odd, condition("R06.2", onset=ago(2)), undated, bad_status,
                          medication(code="20610")])
    assert sorted(e.kind for e in facts.events) == ["anaphylaxis", "respiratory"]
    assert [r.when for r in facts.results] == [None]
    assert dict(facts.reading) == {("Condition", "left_out"): 1, ("Observation", "undated"): 1}
    assert facts.skipped_resources == 1
    assert [t.drug for t in facts.therapies] == ["cetirizine"]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "secret" not in logged and bad_status["id"] not in logged
    assert "Condition" in logged


def test_resources_the_rules_do_not_read_are_never_validated() -> None:
    haemoglobin = observation("718-7", "not a number", "g/dL", when=ago(1))  # type: ignore[arg-type]
    other_condition = condition("J45.909", bogus=True)
    stopped = medication(code="20610", status="stopped", bogus=True)
    facts = facts_of([mcas(), haemoglobin, other_condition, stopped])
    assert facts.skipped_resources == 0


def test_unknown_resource_type_is_ignored_not_fatal() -> None:
    facts = facts_of([mcas(), {"resourceType": "Nonsense", "id": "x"}])
    assert facts.skipped_resources == 0 and len(facts.diagnoses) == 1


def test_same_type_and_id_counts_once() -> None:
    episode = condition("R06.2", onset=ago(2))
    facts = facts_of([mcas(), episode, dict(episode)])
    assert len(facts.events) == 1


def test_date_only_values_are_utc_day_starts_and_partial_dates_work() -> None:
    facts = facts_of([condition("R06.2", onset="2026-09-25"), condition("R06.1", onset="2026-09"),
                      condition("R06.00", onset="2026-09-25T10:00:00-05:00")])
    assert [e.when.isoformat() for e in facts.events] == [
        "2026-09-25T00:00:00+00:00", "2026-09-01T00:00:00+00:00", "2026-09-25T15:00:00+00:00"]


def test_event_dated_by_onset_then_period_then_recorded_date() -> None:
    by_period = condition("R06.2", onsetPeriod={"start": "2026-01-05"}, recordedDate="2026-02-01")
    by_recorded = condition("R06.2", recordedDate="2026-02-01")
    facts = facts_of([by_period, by_recorded])
    assert [e.when.date().isoformat() for e in facts.events] == ["2026-01-05", "2026-02-01"]


def test_entered_in_error_event_conditions_are_excluded() -> None:
    facts = facts_of([condition("T78.2XXA", onset=ago(2), verification="entered-in-error")])
    assert facts.events == ()


def test_observation_dated_by_effective_then_issued() -> None:
    issued = observation("33343-5", 180, "pg/mg{creat}", issued="2026-03-04T10:00:00Z")
    assert facts_of([issued]).results[0].when.isoformat() == "2026-03-04T10:00:00+00:00"


def test_unit_falls_back_to_the_unit_text() -> None:
    resource = observation("33343-5", 180, None, when=ago(3))
    resource["valueQuantity"]["unit"] = "pg/mg{creat}"
    assert facts_of([resource]).results[0].unit == "pg/mg{creat}"


@pytest.mark.parametrize("odd", [
    {"resourceType": "Condition", "id": "x1", "code": {"coding": 5}},
    {"resourceType": "Condition", "id": "x2", "code": "D89.42"},
    {"resourceType": "Observation", "id": "x3", "status": ["final"]},
    {"resourceType": "Observation", "id": "x4", "status": "final",
     "code": {"coding": [{"system": "http://loinc.org", "code": "33343-5"}]},
     "valueQuantity": "180 pg/mg"},
    {"resourceType": "MedicationStatement", "id": "x5", "status": "active",
     "medicationReference": "Medication/1"},
    {"resourceType": "MedicationStatement", "id": "x6", "status": "active",
     "medicationReference": {"reference": "#m"}, "contained": 7},
    {"resourceType": "MedicationRequest", "id": "x7", "status": "active",
     "medicationCodeableConcept": {"text": "cetirizine"}, "dosageInstruction": 3},
    {"resourceType": "MedicationStatement", "id": "x8", "status": "active",
     "medicationCodeableConcept": {"text": ["cetirizine"], "coding": "x"}},
])
def test_oddly_shaped_resources_never_break_extraction(odd: dict) -> None:
    facts = facts_of([mcas(), odd, medication(code="4278")])
    assert len(facts.diagnoses) == 1 and [t.drug for t in facts.therapies] == ["famotidine"]
