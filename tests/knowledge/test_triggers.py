"""cards/triggers.yaml and cards/order_cards.yaml (issue 15): the order-time knowledge as
data, checked at start-up like the drug table."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.knowledge.model import KnowledgeError
from service.knowledge.topics import ORDER_TOPICS
from tests.support.cards_folder import copy_cards, edit

KNOWLEDGE = load_knowledge(bundled_cards_dir())


def test_the_trigger_table_matches_only_v1_v2_codes() -> None:
    table = KNOWLEDGE.triggers
    assert table.by_codes(["5640", "7052", "8787"]) == ["ibuprofen", "morphine", "propranolol"]
    assert table.by_codes(["11124"]) == []  # vancomycin: U, matched by name only
    assert table.by_names("Vancomycin 1 g IV") == ["vancomycin"]
    assert table.by_names("norepinephrine") == []
    assert table.drugs["celecoxib"].indicator == "info"


def test_forms_that_get_no_card() -> None:
    table = KNOWLEDGE.triggers
    assert table.in_form("nsaid", "diclofenac 1% topical gel")
    assert table.in_form("nsaid", "ketorolac | ophthalmic")
    assert not table.in_form("nsaid", "ibuprofen 400 mg tablet | oral")
    assert table.in_form("vancomycin", "vancomycin 125 mg capsule | oral")
    assert not table.in_form("vancomycin", "vancomycin 1 g | intravenous")
    assert not table.in_form("beta_blocker", "timolol 0.5% ophthalmic solution")


def test_never_snoozed_classes() -> None:
    snooze = {k: c.snooze for k, c in KNOWLEDGE.triggers.classes.items()}
    assert snooze == {"nsaid": True, "opioid_histamine": True, "vancomycin": True,
                      "neuromuscular_blocker": False, "iodinated_contrast": False,
                      "beta_blocker": False}


def test_every_order_topic_has_words_reasons_and_evidence() -> None:
    texts = KNOWLEDGE.order_cards
    assert set(texts.topics) == set(ORDER_TOPICS)
    for name, topic in texts.topics.items():
        assert topic.override_reasons, name
        codes = {code for code, _ in topic.override_reasons}
        assert codes <= {"benefit-outweighs-risk", "premedicated", "tolerated-before",
                         "not-applicable"}
        if name not in ("order-trigger-drug", "order-beta-blocker"):
            assert topic.evidence in texts.evidence_levels and topic.source in KNOWLEDGE.references
    assert ("tolerated-before", "Tolerated before") in texts.topics[
        "order-trigger-drug"].override_reasons


def test_a_site_extends_the_trigger_table_without_code(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "triggers.yaml",
         lambda d: d["drugs"].update(ketoprofen={"class": "nsaid", "names": ["ketoprofen"]}))
    assert load_knowledge(cards).triggers.by_names("ketoprofen 50 mg") == ["ketoprofen"]


@pytest.mark.parametrize(("file", "change", "match"), [
    ("triggers.yaml", lambda d: d["drugs"]["ibuprofen"].update({"class": "painkiller"}),
     r"drugs\.ibuprofen\.class"),
    ("triggers.yaml", lambda d: d["classes"]["nsaid"].update(links=["nobody2020"]),
     r"classes\.nsaid\.links"),
    ("triggers.yaml", lambda d: d["classes"]["nsaid"].update(evidence="hearsay"),
     r"classes\.nsaid\.evidence"),
    ("triggers.yaml", lambda d: d["classes"]["nsaid"].update(topic="order-ladder"),
     r"classes\.nsaid\.topic"),
    ("order_cards.yaml",
     lambda d: d["topics"]["order-ladder"].update(override_reasons=["patient-declined"]),
     r"order-ladder\.override_reasons"),
    ("order_cards.yaml", lambda d: d["topics"]["order-aspirin"].pop("evidence"),
     r"order-aspirin\.evidence"),
    ("order_cards.yaml", lambda d: d["topics"].pop("order-ranitidine"),
     r"topics\.order-ranitidine"),
])
def test_a_file_that_does_not_hold_together_is_refused(
    tmp_path: Path, file: str, change: object, match: str
) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / file, change)  # type: ignore[arg-type]
    with pytest.raises(KnowledgeError, match=match):
        load_knowledge(cards)
