"""cards/ as data: loaded, cross-checked, and refusing what would be unsafe."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.knowledge.model import KnowledgeError
from service.knowledge.topics import TOPICS
from tests.support.cards_folder import copy_cards, edit


def test_bundled_knowledge_loads_with_every_topic_and_reference() -> None:
    knowledge = load_knowledge(bundled_cards_dir())
    assert set(knowledge.cards.topics) == set(TOPICS)
    assert set(knowledge.references) == {
        "weiler2019", "valent2012", "valent2019", "valent2019alg", "castells2019",
        "matheny2025", "dupilumab2023",
        # order-time triggers (knowledge.md "Literature for triggers")
        "dewachter2014", "lang1995", "lang2008", "jacobs1981", "tms_periop"}
    assert knowledge.references["dupilumab2023"].verified is False
    assert "not verified" in knowledge.references["dupilumab2023"].label
    assert all(reason.display for reason in knowledge.cards.override_reasons.values())
    assert knowledge.drugs.suggested_drug("h2").key == "famotidine"


def test_ranitidine_can_never_be_suggested(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "drugs.yaml", lambda d: d["drugs"]["ranitidine"].update(suggest=True))
    with pytest.raises(KnowledgeError, match=r"never_suggest"):
        load_knowledge(cards)


def test_steroids_and_biologics_can_never_be_proposed(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"]["tier-3"].update(suggestions=["omalizumab"]))
    with pytest.raises(KnowledgeError, match=r"tier-3\.suggestions"):
        load_knowledge(cards)


def test_unknown_reference_key_is_refused(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d["topics"]["tier-1"].update(links=["nobody2020"]))
    with pytest.raises(KnowledgeError, match="nobody2020"):
        load_knowledge(cards)


def test_a_site_can_confirm_an_unverified_code(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    assert "356887" not in load_knowledge(cards).drugs.codes
    edit(cards / "drugs.yaml",
         lambda d: d["drugs"]["levocetirizine"]["rxnorm"].update(site_confirmed=True))
    assert load_knowledge(cards).drugs.codes["356887"][0] == ("levocetirizine",)


def test_a_missing_entry_or_broken_yaml_is_a_knowledge_error(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit(cards / "cards.yaml", lambda d: d.pop("topic_system"))
    with pytest.raises(KnowledgeError, match="topic_system"):
        load_knowledge(cards)
    (cards / "codes.yaml").write_text("systems: [\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"codes\.yaml: not valid YAML"):
        load_knowledge(cards)
