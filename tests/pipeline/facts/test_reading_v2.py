"""Reading a resource by the elements the rules use (docs/clinical-rules.md §2, §6.2,
§6.8): faults elsewhere never drop it, an unreadable date makes it undated, an unreadable
code, status or value leaves it out; both are counted by kind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from service.pipeline.facts.timeutil import (
    EARLIEST,
    LATEST,
    parse_fhir_date,
    parse_fhir_time,
    read_time,
)
from tests.support.fhir_builders import (
    RXNORM,
    SNOMED,
    ago,
    condition,
    facts_of,
    mcas,
    medication,
    observation,
    topics,
)


def without_subject(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "subject"}


# --- dates -----------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("0001-01-01T00:00:00+14:00", EARLIEST),
    ("9999-12-31T23:59:59-14:00", LATEST),
    ("0001-01-01", EARLIEST),
    ("2026-08-21T13:40:00-05:00", datetime(2026, 8, 21, 18, 40, tzinfo=UTC)),
    ("2026-08-21", datetime(2026, 8, 21, tzinfo=UTC)),
    ("2026-08", datetime(2026, 8, 1, tzinfo=UTC)),
    ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
    ("2026-06-30T23:59:60Z", datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)),
    ("2026-01-01T10:00:00.123456789Z", datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
])
def test_readable_dates_never_raise_and_extremes_are_clamped(value: str, expected: datetime
                                                             ) -> None:
    assert parse_fhir_time(value) == expected


@pytest.mark.parametrize("value", [
    "2026-01-01T10:00:00", "2026-02-30", "0000-01-01", "2026-13-01", "2026-01-01T25:00:00Z",
    " 2026-01-01", "", "yesterday", 20260101, None, True, ["2026"], {"start": "2026"},
])
def test_anything_else_is_unreadable(value: Any) -> None:
    assert parse_fhir_time(value) is None


def test_the_first_present_date_is_read_and_an_unreadable_one_stops_the_search() -> None:
    resource = {"onsetDateTime": "2026-02-30", "recordedDate": "2026-01-01"}
    read = read_time(resource, "onsetDateTime", "recordedDate")
    assert read.when is None and read.unreadable
    fallback = read_time({"recordedDate": "2026-01-01"}, "onsetDateTime", "recordedDate")
    assert fallback.path == "recordedDate" and fallback.date_only
    assert fallback.written_date == "2026-01-01"


def test_a_partial_birth_date_is_its_latest_possible_day() -> None:
    assert parse_fhir_date("2008") == (date(2008, 1, 1), date(2008, 12, 31))
    assert parse_fhir_date("2008-02") == (date(2008, 2, 1), date(2008, 2, 29))
    assert parse_fhir_date("2008-02-30") is None
    assert parse_fhir_date("2008-01-01T00:00:00Z") is None


def test_an_extreme_date_in_a_condition_is_a_date_not_an_error() -> None:
    facts = facts_of([mcas(onsetDateTime="0001-01-01T00:00:00+14:00"),
                      condition("T78.2XXA", onset="9999-12-31T23:59:59-14:00")])
    assert facts.diagnoses[0].when == EARLIEST
    assert facts.events[0].when == LATEST
    assert topics([mcas(onsetDateTime="0001-01-01T00:00:00+14:00")]) == [
        "tier-1", "mediator-evidence"]


# --- faults elsewhere never drop a resource ---------------------------------------------

def test_missing_subject_is_the_context_patients() -> None:
    facts = facts_of([without_subject(mcas()),
                      without_subject(medication(code="4278", start=ago(30))),
                      without_subject(medication(code="1870230", kind="MedicationRequest",
                                                 start=ago(30)))])
    assert [d.kind for d in facts.diagnoses] == ["mcas"]
    assert sorted(t.drug for t in facts.therapies) == ["epinephrine", "famotidine"]
    assert facts.skipped_resources == 0


def test_unknown_elements_and_a_broken_narrative_are_not_read() -> None:
    odd = condition("T78.2XXA", onset=ago(3), text={"div": 5}, bogus=[1, 2],
                    meta={"lastUpdated": "never"}, subject={"reference": 5})
    facts = facts_of([mcas(), odd])
    assert [e.kind for e in facts.events] == ["anaphylaxis"]
    assert dict(facts.reading) == {}


def test_an_unreadable_date_keeps_the_fact_undated_and_counts_it() -> None:
    facts = facts_of([mcas(), condition("T78.2XXA", onset="2026-02-30",
                                        recordedDate="2026-02-01")])
    episode = next(e for e in facts.events if e.kind == "anaphylaxis")
    assert episode.when is None  # the recorded date is not tried
    assert dict(facts.reading) == {("Condition", "undated"): 1}


@pytest.mark.parametrize("fault", [
    {"verificationStatus": {"coding": [{"code": 5}]}},
    {"clinicalStatus": "active"},
    {"code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "T78.2XXA",
                          "display": 7}]}},
])
def test_an_unreadable_code_or_status_leaves_the_resource_out(fault: dict[str, Any]) -> None:
    episode = condition("T78.2XXA", onset=ago(3))
    episode.update(fault)
    facts = facts_of([mcas(), episode])
    assert facts.events == ()
    assert dict(facts.reading) == {("Condition", "left_out"): 1}


def test_clonal_codes_are_read_from_the_raw_json_first() -> None:
    broken = condition("D47.02", onset="0001-13-01", clinical=None,
                       clinicalStatus={"coding": [{"code": ["active"]}]})
    facts = facts_of([mcas(), broken])
    assert [d.kind for d in facts.diagnoses].count("clonal") == 1
    assert dict(facts.reading) == {("Condition", "left_out"): 1}
    assert "tier-1" not in topics([mcas(), broken])


@pytest.mark.parametrize("quantity,counted", [
    ({"value": "180", "unit": "pg/mg{creat}"}, True),
    ({"value": 180, "comparator": "about"}, True),
    ({"value": True}, True),
    ({"unit": "pg/mg{creat}"}, False),  # no number: no result, nothing unreadable
])
def test_an_unreadable_value_leaves_the_result_out(quantity: dict[str, Any], counted: bool
                                                   ) -> None:
    result = observation("33343-5", None, None, when=ago(2), valueQuantity=quantity)
    facts = facts_of([mcas(), result])
    assert facts.results == ()
    assert dict(facts.reading) == ({("Observation", "left_out"): 1} if counted else {})


def test_a_data_absent_reason_is_no_result() -> None:
    absent = observation("33343-5", None, None, when=ago(2),
                         dataAbsentReason={"coding": [{"code": "not-performed"}]})
    assert facts_of([mcas(), absent]).results == ()


def test_an_abatement_makes_a_condition_without_clinical_status_inactive() -> None:
    assert topics([mcas(clinical=None, abatementDateTime="2026-01-01")]) == []
    assert topics([mcas(clinical="active", abatementDateTime="2026-01-01")])[0] == "tier-1"


# --- therapies -------------------------------------------------------------------------

def test_intents_do_not_perform_and_as_needed() -> None:
    plan = medication(code="4278", kind="MedicationRequest", start=ago(30), intent="plan")
    refused = medication(code="4278", kind="MedicationRequest", start=ago(30),
                         doNotPerform=True)
    as_needed = medication(code="20610", start=ago(30),
                           dosage=[{"text": "when itchy", "asNeededBoolean": True}])
    facts = facts_of([plan, refused, as_needed])
    assert [(t.drug, t.as_needed) for t in facts.therapies] == [("cetirizine", True)]
    assert [t.drug for t in facts.records] == ["cetirizine"]


def test_forms_decide_h1_h2_steroids_and_budesonide() -> None:
    cream = medication(text="diphenhydramine 2% cream")
    eye = medication(text="dexamethasone 0.1% ophthalmic solution")
    inhaled = medication(text="budesonide inhalation suspension")
    oral = medication(text="budesonide 9 mg oral capsule")
    hydrocortisone = medication(text="hydrocortisone 10 mg")
    found = [t.drug for t in facts_of([cream, eye, inhaled, oral, hydrocortisone]).therapies]
    assert found == ["budesonide", "hydrocortisone"]


def test_free_text_instructions_never_decide_a_form() -> None:
    pred = medication(code="8640", dosage=[{"text": "put one in the eye if needed"}])
    assert [t.drug for t in facts_of([pred]).therapies] == ["prednisone"]


@pytest.mark.parametrize("text,drug", [
    ("Zantac 360 20 mg", "famotidine"), ("ZANTAC 360\u00b0", "famotidine"),
    ("Zantac-360", "famotidine"), ("zantac360 tablets", "famotidine"),
    ("ranitidine 150 mg", "ranitidine"),
])
def test_zantac_360_is_famotidine(text: str, drug: str) -> None:
    assert [t.drug for t in facts_of([medication(text=text)]).therapies] == [drug]


def test_bare_zantac_is_unclear_unless_a_code_decides() -> None:
    facts = facts_of([medication(text="Zantac 150")])
    assert facts.therapies == () and facts.unclear == (("Zantac", "ranitidine or famotidine"),)
    coded = facts_of([medication(code="9143", text="Zantac 150")])
    assert [t.drug for t in coded.therapies] == ["ranitidine"] and coded.unclear == ()


@pytest.mark.parametrize("dose,unit,period,period_unit,frequency,expected", [
    (150, "mg", 2, "wk", None, 300.0),
    (150, "mg", 4, "wk", None, 150.0),
    (300, "mg", 1, "mo", None, 300.0),
    (75, "mg", 14, "d", 2, 300.0),
    (1, "mL", 4, "wk", None, None),
    (150, "syringe", 4, "wk", None, None),
    (150, "mg", None, None, None, None),
])
def test_omalizumab_dose_per_4_weeks(dose: float, unit: str, period: float | None,
                                     period_unit: str | None, frequency: int | None,
                                     expected: float | None) -> None:
    repeat: dict[str, Any] = {}
    if period is not None:
        repeat.update(period=period, periodUnit=period_unit)
    if frequency is not None:
        repeat["frequency"] = frequency
    dosage = {"doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit}}],
              "timing": {"repeat": repeat}}
    order = medication(code="302379", kind="MedicationRequest", start=ago(100),
                       dosageInstruction=[dosage])
    assert facts_of([order]).therapies[0].dose_mg_per_4_weeks == expected


def test_a_biologic_names_another_indication_by_reason_code_or_reference() -> None:
    urticaria = condition("L50.1")
    by_code = medication(code="302379", reasonCode=[{"coding": [{
        "system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J45.909"}]}])
    by_reference = medication(code="1876376", kind="MedicationRequest",
                              reasonReference=[{"reference": f"Condition/{urticaria['id']}"}])
    facts = facts_of([urticaria, by_code, by_reference])
    assert {t.drug: t.indication for t in facts.therapies} == {
        "omalizumab": "asthma", "dupilumab": "chronic urticaria"}


def test_completed_administrations_and_dispenses_are_supplies() -> None:
    given = {"resourceType": "MedicationAdministration", "id": "a1", "status": "completed",
             "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "302379"}]},
             "effectiveDateTime": ago(20)}
    handed = {"resourceType": "MedicationDispense", "id": "d1", "status": "completed",
              "medicationCodeableConcept": {"text": "montelukast 10 mg"},
              "whenHandedOver": ago(10)}
    not_done = {**given, "id": "a2", "status": "in-progress"}
    facts = facts_of([given, handed, not_done])
    assert sorted((s.drug, s.source) for s in facts.supplies) == [
        ("montelukast", "MedicationDispense"), ("omalizumab", "MedicationAdministration")]


# --- mediators -------------------------------------------------------------------------

@pytest.mark.parametrize("loinc,unit,value,expected_unit,expected_value", [
    ("21582-2", "ng/ml", 5.0, "ng/mL", 5.0),
    ("21582-2", "\u00b5g/L", 5.0, "ng/mL", 5.0),
    ("44340-8", "mcg/g Cr", 250.0, "ug/g{creat}", 250.0),
    ("44340-8", "mcg/g creatinine", 250.0, "ug/g{creat}", 250.0),
    ("33343-5", "pg/mg Cr", 150.0, "pg/mg{creat}", 150.0),
    ("34316-0", "ng/mL", 1.0, "nmol/L", 9.0),
    ("34316-0", "mg/dL", 1.0, "mg/dL", 1.0),
])
def test_unit_spellings_and_conversions(loinc: str, unit: str, value: float,
                                        expected_unit: str, expected_value: float) -> None:
    result = facts_of([observation(loinc, value, unit, when=ago(1))]).results[0]
    assert (result.unit, result.value, result.raw_unit) == (expected_unit, expected_value, unit)


def test_comparators_value_strings_and_reference_range_text() -> None:
    below = observation("33343-5", None, None, when=ago(1), valueString="<1.0",
                        referenceRange=[{"text": "<104"}])
    above = observation("44340-8", None, None, when=ago(1),
                        valueQuantity={"value": 300, "comparator": ">"},
                        referenceRange=[{"text": "30-200 mcg/g Cr"}])
    facts = facts_of([below, above])
    assert [(r.comparator, r.raw_value, r.reference_high) for r in facts.results] == [
        ("<", 1.0, 104.0), (">", 300.0, 200.0)]


def test_snomed_respiratory_and_airway_codes_are_read() -> None:
    facts = facts_of([condition("195967001", system=SNOMED), condition("4386001", system=SNOMED,
                                                                       onset=ago(2))])
    assert [(d.kind, d.label) for d in facts.diagnoses] == [("airway_disease", "asthma")]
    assert [(e.kind, e.bronchospasm) for e in facts.events] == [("respiratory", True)]


# --- odd shapes never raise (a hook never answers 5xx for a resource's shape) ----------

def test_odd_json_shapes_are_never_an_error() -> None:
    odd = [
        {"resourceType": {"nested": 1}, "id": "x"},
        {"resourceType": ["Condition"], "id": "y"},
        {**condition("D89.42"), "code": {"coding": [{"system": {"a": 1}, "code": "D89.42"}]}},
        observation("33343-5", None, None, valueQuantity={"value": 1, "comparator": {}}),
        medication(code="302379", dosage=[{"timing": {"repeat": {"period": 1,
                                                                  "periodUnit": {}}}}]),
        medication(code="302379", dosage=5, reasonReference=[5, {"reference": {}}]),
        observation("33343-5", float("inf"), "pg/mg{creat}", when=ago(1)),
    ]
    from service.pipeline.facts import extract_facts
    from service.pipeline.prefetch import ResolvedPrefetch
    from tests.support.fhir_builders import KNOWLEDGE

    prefetch = ResolvedPrefetch(resources={"conditions": [mcas(), *odd, "not a resource"]})
    facts = extract_facts(prefetch, KNOWLEDGE, "p1")  # type: ignore[arg-type]
    assert [d.kind for d in facts.diagnoses] == ["mcas"]


def test_prefetch_error_objects_are_missing_data() -> None:
    from service.pipeline.prefetch import resolve_prefetch

    templates = {"conditions": "Condition?patient=x", "observations": "Observation?patient=x"}
    unreadable_outcome = {"resourceType": "Bundle", "entry": [{"resource": {
        "resourceType": "OperationOutcome", "issue": [{"severity": {"x": 1}}]}}]}
    for value in ({"resourceType": "OperationOutcome", "issue": 5},
                  {"resourceType": "Bundle", "entry": 5}, unreadable_outcome,
                  {"resourceType": "Bundle", "link": [{"relation": "next", "url": "x"}]}):
        resolved = resolve_prefetch({"conditions": value, "observations": None}, templates)
        assert "conditions" in resolved.unavailable, value
        assert resolved.resources["observations"] == []


def test_nothing_of_a_record_stays_in_the_validation_memos() -> None:
    from service.pipeline.facts import timeutil, validation

    facts_of([mcas(), condition("T78.2XXA", onset=ago(3)),
              observation("33343-5", 180, "pg/mg{creat}", when=ago(2))])
    assert validation._model_valid.cache_info().currsize == 0
    assert timeutil._parse.cache_info().currsize == 0
    assert timeutil._fhir_valid.cache_info().currsize == 0
