"""What cards propose besides drugs, and how they may be dismissed.

Referral and mediator-test drafts, the ranitidine switch, per-topic override reasons
(docs/clinical-rules.md §5; cards/drafts.yaml, cards/cards.yaml).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from tests.support.fhir_builders import (
    KNOWLEDGE,
    LOINC,
    ago,
    cards,
    condition,
    mcas,
    mediators_elevated,
    medication,
    observation,
    tier1,
)


def by_topic(found: list[dict]) -> dict[str, dict]:
    return {c["source"]["topic"]["code"]: c for c in found}


def resources_of(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["resource"] for s in card.get("suggestions", []) for a in s["actions"]]


def refractory_on_montelukast_without_evidence() -> list[dict[str, Any]]:
    return [mcas(), medication(text="EpiPen"), *tier1(400),
            medication(code="88249", start=ago(100)),
            condition("T78.2XXA", onset=ago(5)), condition("T78.2XXA", onset=ago(50))]


def test_confirm_before_biologic_drafts_the_mediator_tests_and_a_referral() -> None:
    card = cards(refractory_on_montelukast_without_evidence())[0]
    assert card["source"]["topic"]["code"] == "confirm-before-biologic"
    tests, referral = card["suggestions"]
    assert tests["label"] == "Draft mediator tests for the next attack"
    loincs = [a["resource"]["code"]["coding"][0]["code"] for a in tests["actions"]]
    assert loincs == ["21582-2", "21582-2", "13781-0", "33343-5", "97658-9"]
    for action in tests["actions"]:
        resource = action["resource"]
        assert action["type"] == "create"
        assert (resource["status"], resource["intent"]) == ("draft", "proposal")
        assert resource["code"]["coding"][0]["system"] == LOINC
        assert resource["patientInstruction"] and resource["note"][0]["text"]
        assert resource["subject"] == {"reference": "Patient/p1"}
        get_fhir_model_class("ServiceRequest").model_validate(resource)
    assert "30 minutes to 4 hours" in tests["actions"][0]["resource"]["note"][0]["text"]
    assert "at least 24 hours" in tests["actions"][1]["resource"]["note"][0]["text"]
    (action,) = referral["actions"]
    assert action["resource"]["code"]["text"] == "Referral to allergy and immunology"
    get_fhir_model_class("ServiceRequest").model_validate(action["resource"])
    # the mediator-evidence card is folded in: its tests are not proposed twice
    assert [s["label"] for s in card["suggestions"]].count(tests["label"]) == 1


def test_every_mediator_test_code_is_a_v2_code_of_the_knowledge() -> None:
    v2 = {"21582-2", "44340-8", "13781-0", "33343-5", "94381-1", "97658-9"}  # knowledge.md
    assert {t.loinc for t in KNOWLEDGE.cards.drafts.mediator_tests} <= v2


def test_a_site_referral_code_goes_beside_the_text() -> None:
    from dataclasses import replace

    from service.pipeline.card_builder import build_cards
    from service.pipeline.rules import evaluate
    from tests.support.fhir_builders import facts_of, thresholds

    drafts = replace(KNOWLEDGE.cards.drafts,
                     referral_coding=(("http://example.org/local", "REF-AI", "Allergy"),))
    knowledge = replace(KNOWLEDGE, cards=replace(KNOWLEDGE.cards, drafts=drafts))
    facts = facts_of(refractory_on_montelukast_without_evidence())
    card = build_cards(evaluate(facts, thresholds(), ago_now()), facts, knowledge,
                       thresholds())[0]
    code = card["suggestions"][-1]["actions"][0]["resource"]["code"]
    assert code == {"text": "Referral to allergy and immunology", "coding": [
        {"system": "http://example.org/local", "code": "REF-AI", "display": "Allergy"}]}


def ago_now() -> Any:
    from tests.support.fhir_builders import NOW

    return NOW


def test_ranitidine_order_is_stopped_and_famotidine_drafted_in_one_suggestion() -> None:
    order = medication(code="9143", start=ago(300), kind="MedicationRequest", id="rani-1")
    card = by_topic(cards([mcas(), *mediators_elevated(), order]))["ranitidine-switch"]
    (switch,) = card["suggestions"]
    stop, start = switch["actions"]
    assert stop["type"] == "update"
    assert stop["resource"]["id"] == "rani-1" and stop["resource"]["status"] == "stopped"
    assert stop["resource"]["intent"] == "order"
    get_fhir_model_class("MedicationRequest").model_validate(stop["resource"])
    assert start["type"] == "create"
    assert start["resource"]["medicationCodeableConcept"]["coding"][0]["code"] == "4278"
    assert (start["resource"]["status"], start["resource"]["intent"]) == ("draft", "proposal")
    assert switch["label"] == "Stop ranitidine, draft famotidine (no dose)"
    assert "medication list" not in card["detail"]


def test_ranitidine_on_the_medication_list_is_stopped_in_text_only() -> None:
    statement = medication(code="9143", start=ago(300))
    card = by_topic(cards([mcas(), *mediators_elevated(), statement]))["ranitidine-switch"]
    (switch,) = card["suggestions"]
    assert [a["type"] for a in switch["actions"]] == ["create"]
    assert "a card cannot change: stop it there" in card["detail"]


def test_override_reasons_are_the_topics_own() -> None:
    found = by_topic(cards([mcas(), condition("Z87.892"), medication(code="1191", start=ago(40)),
                            *tier1(50), *mediators_elevated()]))
    system = KNOWLEDGE.cards.override_reason_system
    for topic, card in found.items():
        codes = [r["code"] for r in card["overrideReasons"]]
        assert codes == [c for c in KNOWLEDGE.cards.topics[topic].override_reasons
                         if "suggestions" in card or c != "patient-declined"]
        assert all(r["system"] == system for r in card["overrideReasons"])
    assert "patient-declined" in [r["code"] for r in
                                  found["epinephrine-autoinjector"]["overrideReasons"]]
    assert [r["code"] for r in found["aspirin-caution"]["overrideReasons"]] == [
        "cardioprotective-aspirin", "already-addressed", "record-out-of-date"]


def test_patient_declined_is_left_out_when_every_proposal_was_held_back() -> None:
    """Famotidine stopped last month is not proposed again: the card proposes nothing."""
    stopped = medication(code="4278", start=ago(200), status="stopped",
                         effectivePeriod={"start": ago(200), "end": ago(30)})
    card = cards([mcas(), *mediators_elevated(), medication(code="20610", start=ago(50)),
                  stopped])[0]
    assert card["source"]["topic"]["code"] == "tier-1"
    assert "suggestions" not in card
    assert "patient-declined" not in [r["code"] for r in card["overrideReasons"]]
    assert card["summary"].endswith("consider a regular H2 antihistamine")


def test_specialist_referral_for_a_child_does_not_call_omalizumab_the_last_step() -> None:
    child = {"resourceType": "Patient", "id": "p1", "birthDate": "2016-05-01"}
    flagged = [observation("33343-5", 180, "pg/mg{creat}", when=ago(d), flag="H")
               for d in (30, 60)]  # a child: the lab's flags decide
    resources = [child, mcas(), *flagged, medication(text="EpiPen"), *tier1(400),
                 medication(code="88249", start=ago(300)),
                 medication(code="302379", start=ago(200)),
                 condition("T78.2XXA", onset=ago(40)), condition("T78.2XXA", onset=ago(10))]
    card = cards(resources)[0]
    assert card["source"]["topic"]["code"] == "specialist-referral"
    assert "highest tier" not in card["detail"] and "last step" not in card["detail"]
    assert "a referral is proposed instead" in card["detail"]
    assert card["summary"] == ("Attacks continue after 200 days of omalizumab: refer for "
                               "specialist review")
    (referral,) = card["suggestions"]
    assert referral["actions"][0]["resource"]["resourceType"] == "ServiceRequest"


def test_refractory_on_dupilumab_is_the_last_step() -> None:
    resources = [mcas(), *mediators_elevated(), medication(text="EpiPen"), *tier1(400),
                 medication(code="88249", start=ago(300)),
                 medication(code="302379", start=ago(290), status="stopped"),
                 medication(text="dupilumab 300 mg", start=ago(200)),
                 condition("T78.2XXA", onset=ago(40)), condition("T78.2XXA", onset=ago(10))]
    card = cards(resources)[0]
    assert card["source"]["topic"]["code"] == "specialist-referral"
    assert "Attacks continue on dupilumab, the last step of this ladder" in card["detail"]
