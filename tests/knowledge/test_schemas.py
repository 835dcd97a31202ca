"""cards/ files checked by their schemas (service/knowledge/schemas.py): file and field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.knowledge.loader import load_knowledge
from service.knowledge.model import KnowledgeError
from tests.support.cards_folder import copy_cards, edit


def refused(cards: Path, pattern: str) -> str:
    with pytest.raises(KnowledgeError, match=pattern) as caught:
        load_knowledge(cards)
    return str(caught.value)


def test_an_unknown_key_is_refused_with_file_and_field(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"]["tier-1"].update(colour="red"))
    refused(cards, r"cards\.yaml: topics\.tier-1\.colour: Unknown field")


def test_an_unknown_key_in_a_free_form_entry_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "drugs.yaml", lambda d: d["drugs"]["cetirizine"].update(sugest=True))
    refused(cards, r"drugs\.yaml: drugs\.cetirizine\.sugest: Unknown field")


def test_an_unknown_topic_or_sentence_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "sentences.yaml", lambda d: d.update({"patient.adult": "Adult."}))
    refused(cards, r"sentences\.yaml: patient\.adult: Unknown field")


def test_a_wrong_type_is_refused_with_file_and_field(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "mediators.yaml",
         lambda d: d["analytes"]["tryptase"].update(prostaglandin_marker="yes"))
    refused(cards, r"mediators\.yaml: analytes\.tryptase\.prostaglandin_marker: "
                   r"Must be true or false")


def test_a_number_where_a_code_belongs_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "mediators.yaml", lambda d: d["analytes"]["tryptase"].update(loinc=[215822]))
    refused(cards, r"mediators\.yaml: analytes\.tryptase\.loinc\.0: Not a valid string")


def test_an_enumeration_is_enforced(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"]["albuterol"].update(indicator="urgent"))
    refused(cards, r"cards\.yaml: topics\.albuterol\.indicator: Must be one of: "
                   r"info, warning, critical")


def test_a_missing_topic_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"].pop("tier-4"))
    refused(cards, r"cards\.yaml: topics\.tier-4: Missing data for required field")


def test_a_link_to_an_unknown_reference_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"]["tier-1"].update(links=["nobody2020"]))
    refused(cards, r"cards\.yaml: topics\.tier-1\.links\.0: unknown reference 'nobody2020'")


def test_a_removed_reference_breaks_the_links_to_it(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "references.yaml", lambda d: d["references"].pop("castells2019"))
    message = refused(cards, r"topics\.tier-1\.links\.1: unknown reference 'castells2019'")
    assert message.split(": ", 1)[0].endswith("cards.yaml")


def test_a_drug_of_an_unknown_class_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "drugs.yaml", lambda d: d["drugs"]["cetirizine"].update({"class": "h9"}))
    refused(cards, r"drugs\.yaml: drugs\.cetirizine\.class: unknown class 'h9'")


def test_every_proposable_class_needs_a_suggested_drug_with_a_matching_code(
    tmp_path: Path,
) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "drugs.yaml", lambda d: d["drugs"]["famotidine"].pop("suggest"))
    refused(cards, r"drugs\.yaml: drugs: no drug of class 'h2' has suggest: true")
    edit(cards / "drugs.yaml", lambda d: d["drugs"]["famotidine"].update(suggest=True))
    edit(cards / "drugs.yaml", lambda d: d["drugs"]["famotidine"]["rxnorm"].update(status="U"))
    refused(cards, r"drugs\.yaml: drugs\.famotidine\.rxnorm: a suggested drug needs a V1/V2")


def test_a_sentence_with_an_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "sentences.yaml", lambda d: d.update({"patient.child": "Aged {years}."}))
    refused(cards, r"sentences\.yaml: patient\.child: unknown placeholder\(s\) \['years'\]")


def test_every_problem_of_a_file_is_named(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)

    def two_problems(d: dict) -> None:  # type: ignore[type-arg]
        d["topics"]["tier-1"].update(indicator="loud")
        d["topics"]["tier-2"].update(title="")

    edit(cards / "cards.yaml", two_problems)
    message = refused(cards, r"tier-1\.indicator")
    assert "topics.tier-2.title: Must not be empty." in message


def test_snooze_yaml_names_only_known_facts_for_every_topic(tmp_path: Path) -> None:
    """cards/snooze.yaml (docs/clinical-rules.md §8): every topic, known kinds, classes
    and analytes only; the shipped file holds what the rules require at least."""
    knowledge = load_knowledge(copy_cards(tmp_path / "shipped"))
    epinephrine = knowledge.snooze["epinephrine-autoinjector"]
    assert {"anaphylaxis", "anaphylaxis_history", "history", "angioedema"} <= epinephrine.events
    assert epinephrine.therapy_classes == {"epinephrine_autoinjector"}
    aspirin = knowledge.snooze["aspirin-caution"]
    assert aspirin.therapy_classes == {"aspirin"}
    assert aspirin.results == {"dinor_11b_pgf2a", "prostaglandin_d2"}
    assert knowledge.snooze["steroid-long-term"].therapy_classes == {"systemic_steroid"}
    for ladder in ("tier-1", "tier-2", "confirm-before-biologic", "tier-3", "omalizumab-dose",
                   "tier-4", "specialist-referral"):
        facts = knowledge.snooze[ladder]
        assert facts.active_therapies and "mcas" in facts.diagnoses
        assert {"anaphylaxis", "trigger"} <= facts.events
        assert {"tryptase", "leukotriene_e4"} <= facts.results

    cards = copy_cards(tmp_path / "bad-class")
    edit(cards / "snooze.yaml",
         lambda d: d["topics"]["aspirin-caution"].update(therapy_classes=["nsaid"]))
    assert "topics.aspirin-caution.therapy_classes.0" in refused(cards, "unknown drug class")
    cards = copy_cards(tmp_path / "missing")
    edit(cards / "snooze.yaml", lambda d: d["topics"].pop("albuterol"))
    assert "topics.albuterol" in refused(cards, "Missing data")
    cards = copy_cards(tmp_path / "bad-kind")
    edit(cards / "snooze.yaml", lambda d: d["topics"]["tier-1"].update(events=["episode"]))
    assert "unknown event kind" in refused(cards, "snooze.yaml")
# Card content (issue 14): per-topic override reasons, evidence, source, drafts ----------


def test_patient_declined_is_refused_on_a_topic_that_proposes_nothing(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"]["aspirin-caution"].update(
        override_reasons=["already-addressed", "patient-declined"]))
    refused(cards, r"topics\.aspirin-caution\.override_reasons: 'patient-declined' only on a "
                   r"card that proposes something")


def test_an_unknown_override_reason_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"]["tier-1"].update(
        override_reasons=["bored"]))
    refused(cards, r"topics\.tier-1\.override_reasons: unknown override reason 'bored'")


def test_evidence_level_and_source_authority_are_cross_checked(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"]["tier-3"].update(evidence="anecdote"))
    refused(cards, r"topics\.tier-3\.evidence: unknown evidence level 'anecdote'")
    edit(cards / "cards.yaml", lambda d: d["topics"]["tier-3"].update(evidence="case_series"))
    edit(cards / "references.yaml", lambda d: d["references"]["matheny2025"].pop("authority"))
    refused(cards, r"topics\.tier-3\.source: reference 'matheny2025' has no authority")


def test_a_summary_may_not_speak_in_tiers(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"]["tier-2"].update(
        summary="MCAS tier {tier} refractory after {days} days"))
    refused(cards, r"topics\.tier-2\.summary: needs 1-120 characters and known placeholders")


def test_a_suggestion_label_longer_than_60_characters_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "drafts.yaml", lambda d: d["referral"].update(
        label="Draft a referral to the allergy and immunology service of this hospital"))
    refused(cards, r"drafts\.yaml: referral\.label: at most 60 characters")


def test_a_mediator_test_must_be_a_code_of_mediators_yaml(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "drafts.yaml", lambda d: d["mediator_tests"]["tests"][0].update(
        loinc="21370-2"))  # a wrong tryptase code seen in public data (knowledge.md)
    refused(cards, r"drafts\.yaml: mediator_tests\.tests: LOINC 21370-2 is not a code of "
                   r"mediators\.yaml")


def test_a_product_code_is_refused_as_a_dose_form_coding(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "drugs.yaml", lambda d: d["drugs"]["cetirizine"].update(suggest_form_coding=[
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1014678"}]))
    refused(cards, r"drugs\.yaml: drugs\.cetirizine\.suggest_form_coding: 1014678 is a product "
                   r"code")


def test_a_site_dose_form_coding_goes_beside_the_ingredient(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    form = {"system": "http://example.org/site-forms", "code": "ORAL-TAB", "display": "tablet"}
    edit(cards / "drugs.yaml",
         lambda d: d["drugs"]["famotidine"].update(suggest_form_coding=[form]))
    drug = load_knowledge(cards).drugs.suggested_drug("h2")
    assert drug.suggest_form_coding == (("http://example.org/site-forms", "ORAL-TAB", "tablet"),)
