"""Card content: shape, wording, suggestions, evidence, data notes.

docs/clinical-rules.md §4, §5.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.support.fhir_builders import (
    KNOWLEDGE,
    RXNORM,
    ago,
    cards,
    condition,
    mcas,
    mediators_elevated,
    medication,
    observation,
    tier1,
)

TOPIC_SYSTEM = "https://mcas-cds.org/fhir/CodeSystem/card-topic"


def empties(value: Any, path: str = "$") -> list[str]:
    if value is None or value == "" or value == [] or value == {}:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in empties(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in empties(v, f"{path}[{i}]")]
    return []


def every_card() -> list[dict]:
    """A patient who gets every non-ladder card plus tier-1."""
    return cards([mcas(), condition("Z87.892"), condition("R06.2", onset=ago(3)),
                  medication(code="1191", start=ago(40)), medication(code="8640", start=ago(40)),
                  medication(code="302379", start=ago(100)), medication(code="20610",
                                                                        start=ago(50))])


def by_topic(found: list[dict]) -> dict[str, dict]:
    return {c["source"]["topic"]["code"]: c for c in found}


def test_every_card_has_the_required_members_and_no_empty_ones() -> None:
    found = every_card()
    # mediator-evidence and biologic-review go into the ladder card (docs/clinical-rules.md §4)
    assert [c["source"]["topic"]["code"] for c in found] == [
        "tier-1", "epinephrine-autoinjector", "albuterol", "aspirin-caution",
        "steroid-long-term"]
    for card in found:
        assert empties(card) == []
        uuid.UUID(card["uuid"])
        assert len(card["summary"]) < 140
        assert card["indicator"] in {"info", "warning", "critical"}
        assert card["source"]["topic"]["system"] == TOPIC_SYSTEM
        topic = KNOWLEDGE.cards.topics[card["source"]["topic"]["code"]]
        assert card["source"]["label"] == KNOWLEDGE.references[topic.source].authority
        assert card["source"]["url"] == KNOWLEDGE.references[topic.source].url
        assert all(link["type"] == "absolute" and link["url"].startswith("https://")
                   for link in card["links"])
        assert all(r["display"] for r in card["overrideReasons"])
        assert card["extension"]["org.mcas-cds.thresholds-version"].startswith("sha256:")
        assert "Decision support for clinicians" in card["detail"]
        assert card["detail"].startswith("**Strength of evidence: ")
        assert "sha256" not in card["detail"] and "thresholds" not in card["detail"]
        assert not re.search(r"<[a-zA-Z/]", card["detail"])  # no raw HTML
        if "suggestions" in card:
            assert card["selectionBehavior"] == "any"


def test_indicators_follow_the_rules() -> None:
    indicators = {k: c["indicator"] for k, c in by_topic(every_card()).items()}
    assert indicators["epinephrine-autoinjector"] == "warning"
    assert indicators["aspirin-caution"] == "warning"
    assert indicators["steroid-long-term"] == "warning"
    assert indicators["tier-1"] == "info"


def medication_drafts(card: dict) -> list[dict]:
    return [s for s in card.get("suggestions", [])
            if s["actions"][0]["resource"]["resourceType"] == "MedicationRequest"]


def test_suggestions_are_draft_proposals_with_rxnorm_and_no_dose() -> None:
    card = by_topic(every_card())["tier-1"]
    assert [s["actions"][0]["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
            for s in medication_drafts(card)] == ["4278"]  # famotidine, never ranitidine
    for suggestion in medication_drafts(card):
        uuid.UUID(suggestion["uuid"])
        (action,) = suggestion["actions"]
        resource = action["resource"]
        assert action["type"] == "create" and action["description"]
        assert resource["resourceType"] == "MedicationRequest"
        assert (resource["status"], resource["intent"]) == ("draft", "proposal")
        assert resource["subject"] == {"reference": "Patient/p1"}
        assert resource["medicationCodeableConcept"]["coding"][0]["system"] == RXNORM
        assert resource["medicationCodeableConcept"]["text"] == "famotidine oral tablet"
        assert "dosageInstruction" not in resource and "dose" not in str(resource).lower()
        assert len(suggestion["label"]) <= 60


def test_only_allowed_classes_are_ever_proposed() -> None:
    proposed = {s["actions"][0]["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
                for c in every_card() for s in medication_drafts(c)}
    allowed = {KNOWLEDGE.drugs.suggested_drug(c).rxnorm for c in (
        "h1", "h2", "leukotriene", "cromolyn_oral", "epinephrine_autoinjector", "albuterol")}
    assert proposed <= allowed
    assert "9143" not in proposed
    for topic in ("steroid-long-term", "aspirin-caution"):
        assert "suggestions" not in by_topic(every_card())[topic]


def test_epinephrine_card_says_the_dose_depends_on_weight() -> None:
    card = by_topic(every_card())["epinephrine-autoinjector"]
    assert "0.15 mg" in card["detail"] and "0.3 mg" in card["detail"] and "weight" in card["detail"]
    assert "**0.1 mg** for 7.5-15 kg" in " ".join(card["detail"].split())
    assert card["suggestions"][0]["actions"][0]["resource"]["medicationCodeableConcept"][
        "coding"][0]["code"] == "3992"


def test_detail_shows_why_with_dates_and_values() -> None:
    found = by_topic(every_card())
    assert "since 2026-10-06" in found["tier-1"]["detail"]  # the H1 started 50 days ago
    assert found["tier-1"]["summary"] == (
        "No regular H2 antihistamine on record for MCAS (first line: H1 + H2 antihistamine): "
        "consider famotidine")
    assert "(R06.2)" in found["albuterol"]["detail"]
    assert "40 days" in found["steroid-long-term"]["summary"]
    # the biologic review, folded into the ladder card
    assert "**Biologic response review**" in found["tier-1"]["detail"]
    assert "Omalizumab active since 2026-08-17: 100 days" in found["tier-1"]["detail"]


def test_ladder_detail_lists_episodes_and_thresholds_crossed() -> None:
    resources = [mcas(), *mediators_elevated(), medication(text="EpiPen"), *tier1(100),
                 condition("T78.2XXA", onset="2026-11-01T10:00:00Z"),
                 condition("T78.2XXA", onset="2026-10-01T10:00:00Z")]
    card = cards(resources)[0]
    assert card["source"]["topic"]["code"] == "tier-2"
    assert "2026-10-01: " in card["detail"] and "2026-11-01: " in card["detail"]
    # clinical units, not UCUM (docs/clinical-rules.md §5)
    assert "180 pg/mg creatinine is above the threshold 104 pg/mg creatinine" in card["detail"]
    assert "{creat}" not in card["detail"]
    assert card["summary"] == ("Attacks continue after 100 days of cetirizine + famotidine: "
                               "consider montelukast and/or oral cromolyn")


def test_unavailable_data_and_skipped_resources_are_stated() -> None:
    bad_status = condition("R06.2", onset=ago(3), clinical=None, clinicalStatus="active")
    resources = [mcas(), condition("Z87.892"), medication(text="EpiPen"), *tier1(10),
                 bad_status, condition("R06.2", onset=ago(4)),
                 condition("R06.1", onset="2026-02-30")]
    found = cards(resources, unavailable=("observations",))
    assert found and all("Lab results could not be retrieved from the record" in c["detail"]
                         for c in found)
    # counted by kind, in clinical words, never their content (docs/clinical-rules.md §2)
    assert all("1 diagnosis record(s) could not be read" in c["detail"] for c in found)
    assert all("1 diagnosis record(s): a date could not be read" in c["detail"] for c in found)
    assert "mediator-evidence" not in by_topic(found)


def test_record_text_cannot_inject_html_or_markdown() -> None:
    resources = [mcas(), *mediators_elevated(), condition("Z87.892"),
                 medication(text="cetirizine <script>alert(1)</script> *bold*", start=ago(5))]
    detail = cards(resources)[0]["detail"]
    assert "<script>" not in detail and r"\<script\>" in detail and r"\*bold\*" in detail


def test_tier3_card_cites_the_omalizumab_review_and_proposes_only_a_referral() -> None:
    resources = [mcas(), *mediators_elevated(), medication(text="EpiPen"), *tier1(400),
                 medication(code="88249", start=ago(100)),
                 condition("T78.2XXA", onset=ago(5)), condition("T78.2XXA", onset=ago(50))]
    card = cards(resources)[0]
    assert card["source"]["topic"]["code"] == "tier-3"
    assert "61%" in card["detail"] and "18%" in card["detail"]
    assert card["source"]["label"] == "Systematic review of omalizumab in MCAS, Matheny 2025"
    (referral,) = card["suggestions"]
    (action,) = referral["actions"]
    assert action["type"] == "create"
    assert action["resource"]["resourceType"] == "ServiceRequest"
    assert (action["resource"]["status"], action["resource"]["intent"]) == ("draft", "proposal")
    assert action["resource"]["code"] == {"text": "Referral to allergy and immunology"}
    assert any("10.2500/aap.2025.46.240076" in link["url"] for link in card["links"])


def test_mediator_card_links_the_tryptase_formula() -> None:
    card = by_topic(cards([mcas(), *tier1(10), observation("21582-2", 30, "ng/mL",
                                                               when=ago(2))],
                          folded=False))["mediator-evidence"]
    assert any("10.1159/000501079" in link["url"] for link in card["links"])
    assert "single tryptase is never evidence" in card["detail"]


def test_an_unavailable_patient_resource_is_not_reported_as_missing_clinical_data() -> None:
    found = cards([mcas(), condition("Z87.892")], unavailable=("patient",))
    assert found and not any("Not available" in c["detail"] for c in found)


def test_summary_stays_under_140_characters_cut_at_a_word_boundary() -> None:
    from service.pipeline.card_builder import _summary

    assert _summary("{drug} started {days} days ago", {"drug": "x" * 200, "days": "5"}).endswith(
        "…")
    assert len(_summary("{drug} started", {"drug": "x" * 200})) < 140
    words = " ".join(f"word{i}" for i in range(40))  # 270 characters
    cut = _summary("{drugs}", {"drugs": words})
    assert len(cut) < 140 and cut.endswith("…")
    assert cut[:-1].split(" ") == words.split(" ")[: len(cut[:-1].split(" "))]
    assert _summary("{drugs}: short", {"drugs": "cetirizine"}) == "cetirizine: short"
