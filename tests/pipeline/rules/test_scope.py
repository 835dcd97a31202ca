"""Scope (docs/clinical-rules.md §1, §6.8, §6.11, §6.12): who gets cards at all."""

from __future__ import annotations

import pytest

from service.pipeline.rules import scope
from tests.support.fhir_builders import NOW, SNOMED, ago, condition, facts_of, mcas, topics


def in_scope(*resources: dict) -> bool:
    return scope(facts_of(list(resources)), NOW).in_scope


@pytest.mark.parametrize("code", ["D89.42", "D8942", "d89.42", "D89.40", "D89.41", "D89.43",
                                  "D89.49", "d8949"])
def test_mcas_icd10_with_or_without_dot_any_case(code: str) -> None:
    assert in_scope(condition(code))


def test_snomed_mcas_code() -> None:
    assert in_scope(condition("16697871000119100", system=SNOMED))


def test_oid_form_of_icd10cm_matches_and_other_systems_do_not() -> None:
    assert in_scope(condition("D89.42", system="urn:oid:2.16.840.1.113883.6.90"))
    assert not in_scope(condition("D89.42", system="http://example.org/icd"))
    assert not in_scope(condition("D89.42", system=SNOMED))


def test_hereditary_alpha_tryptasemia_alone_is_not_in_scope() -> None:
    assert not in_scope(condition("D89.44"))
    assert not in_scope(condition("D89.4"))  # the parent code is not an MCAS code


@pytest.mark.parametrize("clinical,expected", [
    ("active", True), ("recurrence", True), ("relapse", True), (None, True),
    ("inactive", False), ("resolved", False), ("remission", False),
])
def test_clinical_status(clinical: str | None, expected: bool) -> None:
    assert in_scope(mcas(clinical=clinical)) is expected


@pytest.mark.parametrize("verification,expected", [
    ("entered-in-error", False), ("refuted", False), ("confirmed", True), (None, True),
    ("provisional", True), ("unconfirmed", True), ("differential", True),
])
def test_verification_status(verification: str | None, expected: bool) -> None:
    assert in_scope(mcas(verification=verification)) is expected


def clonal(*resources: dict) -> str | None:
    return scope(facts_of(list(resources)), NOW).clonal


@pytest.mark.parametrize("code", ["D47.01", "D47.02", "D4709", "D47.0", "Q82.2", "C96.20",
                                  "C96.21", "C94.30", "c94.32"])
def test_clonal_disease_keeps_mcas_in_scope_but_flags_it(code: str) -> None:
    # rules v2: clonal disease suppresses the treatment cards, never the safety cards
    assert in_scope(mcas(), condition(code))
    assert clonal(mcas(), condition(code)) == code
    assert not in_scope(condition(code))  # clonal disease without MCAS: no cards


def test_clonal_disease_fails_closed_whatever_its_status_or_dates() -> None:
    for resource in (condition("D47.02", clinical="resolved"), condition("D47.02", clinical=None),
                     condition("D47.02", verification="provisional"),
                     condition("D47.02", onset="0001-01-01T00:00:00+14:00"),
                     condition("D47.02", onset=ago(-30)),
                     condition("397016004", system=SNOMED, clinicalStatus={"coding": 5})):
        assert clonal(mcas(), resource) is not None, resource
    assert clonal(mcas(), condition("D47.02", verification="refuted")) is None
    assert clonal(mcas(), condition("D47.02", verification="entered-in-error")) is None


def test_clonal_disease_shows_the_safety_cards_only() -> None:
    found = topics([mcas(), condition("D47.02"), condition("Z87.892")])
    assert found == ["epinephrine-autoinjector"]


def test_diagnosis_dated_after_now_is_ignored() -> None:
    assert not in_scope(condition("D89.42", onset=ago(-1)))
    assert in_scope(condition("D89.42", onset=ago(0)))  # exactly now counts
    assert in_scope(mcas(), condition("D47.02", onset=ago(-2)))  # future clonal ignored too


def test_out_of_scope_patient_gets_no_decisions() -> None:
    assert topics([condition("D89.44"), condition("T78.2XXA", onset=ago(3))]) == []


def test_unconfirmed_flag() -> None:
    assert scope(facts_of([mcas(verification="provisional")]), NOW).confirmed is False
    both = [mcas(verification="provisional"), mcas(verification=None)]
    assert scope(facts_of(both), NOW).confirmed is True
