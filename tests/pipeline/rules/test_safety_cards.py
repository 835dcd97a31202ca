"""Safety and quality cards (docs/clinical-rules.md §4, §6.5, §6.9, §6.10, §6.12)."""

from __future__ import annotations

from tests.support.fhir_builders import (
    SNOMED,
    ago,
    condition,
    mcas,
    mediators_elevated,
    medication,
    observation,
    thresholds,
    tier1,
    topics,
)


def safety(resources: list[dict], **kwargs) -> list[str]:
    return [t for t in topics([mcas(), *tier1(100), *resources], **kwargs)
            if not t.startswith("tier")]


def test_epinephrine_card_for_each_kind_of_history() -> None:
    for history in (condition("Z87.892"), condition("T78.3XXA", onset=ago(900)),
                    condition("41291007", system=SNOMED), condition("T78.2XXD", onset=ago(5)),
                    condition("T78.2XXA", onset=ago(2000), clinical="resolved")):
        assert "epinephrine-autoinjector" in safety([*mediators_elevated(), history])


def test_epinephrine_card_not_for_refuted_history_or_when_autoinjector_active() -> None:
    assert safety([*mediators_elevated(), condition("Z87.892", verification="refuted")]) == []
    for autoinjector in (medication(text="EpiPen 0.3 mg"), medication(code="1870230"),
                         medication(text="Auvi-Q", kind="MedicationRequest"),
                         medication(code="3992", text="epinephrine auto-injector")):
        assert safety([*mediators_elevated(), condition("Z87.892"), autoinjector]) == []


def test_norepinephrine_or_an_epinephrine_vial_is_not_an_autoinjector() -> None:
    for other in (medication(text="norepinephrine infusion"),
                  medication(code="3992", text="epinephrine 1 MG/ML injection vial")):
        found = safety([*mediators_elevated(), condition("Z87.892"), other])
        assert found == ["epinephrine-autoinjector"]


def test_epinephrine_and_albuterol_suppressed_when_a_medication_key_is_unavailable() -> None:
    resources = [*mediators_elevated(), condition("Z87.892"), condition("R06.2", onset=ago(5))]
    assert safety(resources) == ["epinephrine-autoinjector", "albuterol"]
    assert safety(resources, unavailable=("medicationRequests",)) == []


def test_albuterol_card_only_for_bronchospasm_inside_the_lookback() -> None:
    assert safety([*mediators_elevated(), condition("56018004", system=SNOMED,
                                                    onset=ago(3))]) == ["albuterol"]
    assert safety([*mediators_elevated(), condition("4386001", system=SNOMED,
                                                    onset=ago(180))]) == ["albuterol"]
    assert safety([*mediators_elevated(), condition("R06.2", onset=ago(181))]) == []
    assert safety([*mediators_elevated(), condition("R06.1", onset=ago(3))]) == []  # stridor
    assert safety([*mediators_elevated(), condition("R06.02", onset=ago(3))]) == []  # dyspnoea
    assert safety([*mediators_elevated(), condition("R06.2")]) == []  # undated
    assert safety([*mediators_elevated(), condition("R06.2", onset=ago(-2))]) == []  # future


def test_albuterol_card_not_when_albuterol_or_levalbuterol_active() -> None:
    wheeze = condition("R06.2", onset=ago(3))
    for rescue in (medication(code="745752"), medication(text="Ventolin HFA"),
                   medication(text="Xopenex")):
        assert safety([*mediators_elevated(), wheeze, rescue]) == []


def test_aspirin_caution() -> None:
    aspirin = medication(code="1191", start=ago(400))
    assert safety([*mediators_elevated(), aspirin]) == ["aspirin-caution"]
    dinor = observation("94381-1", 2500, "pg/mg{creat}", when=ago(20))
    assert safety([*mediators_elevated(), aspirin, dinor]) == []
    pgd2 = observation("14054-1", 300, "ng/24 h", when=ago(20), high=280)
    assert safety([*mediators_elevated(), aspirin, pgd2]) == []
    assert safety([aspirin], unavailable=("observations",)) == []


def test_steroid_long_term_after_more_than_14_days() -> None:
    assert safety([*mediators_elevated(), medication(code="8640", start=ago(14))]) == []
    assert safety([*mediators_elevated(), medication(code="8640", start=ago(14, seconds=1))]) == [
        "steroid-long-term"]
    assert safety([*mediators_elevated(), medication(text="Medrol 4 mg tablet",
                                                     start=ago(30))]) == ["steroid-long-term"]


def test_non_systemic_steroids_do_not_count() -> None:
    for local in ("prednisolone acetate 1% ophthalmic suspension", "dexamethasone otic",
                  "dexamethasone nasal spray"):
        assert safety([*mediators_elevated(), medication(text=local, start=ago(60))]) == []


def test_biologic_review_window_is_inclusive() -> None:
    def review(days: float) -> list[str]:
        return safety([*mediators_elevated(), medication(code="302379", start=ago(days))])
    assert review(89) == []
    assert review(90) == ["biologic-review"]
    assert review(180) == ["biologic-review"]
    assert review(180.01) == []
    assert safety([*mediators_elevated(), medication(text="Dupixent 300 mg",
                                                     start=ago(120))]) == ["biologic-review"]


def test_unconfirmed_diagnosis_keeps_safety_cards_but_not_biologic_review() -> None:
    resources = [condition("D89.42", verification="unconfirmed"), *tier1(100),
                 condition("Z87.892"), medication(code="302379", start=ago(100)),
                 medication(code="8640", start=ago(30))]
    assert topics(resources) == ["epinephrine-autoinjector", "steroid-long-term",
                                 "mediator-evidence"]


def test_every_card_switch_is_honoured() -> None:
    resources = [condition("Z87.892"), condition("R06.2", onset=ago(3)),
                 medication(code="1191", start=ago(40)), medication(code="8640", start=ago(40)),
                 medication(code="302379", start=ago(100))]
    found = safety(resources)
    assert found == ["epinephrine-autoinjector", "albuterol", "aspirin-caution",
                     "steroid-long-term", "mediator-evidence", "biologic-review"]
    enabled = thresholds().cards_enabled
    for topic in found:
        limits = thresholds(cards_enabled={**enabled, topic: False})
        assert safety(resources, limits=limits) == [t for t in found if t != topic]
