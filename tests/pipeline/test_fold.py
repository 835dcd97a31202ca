"""Fewer cards: mediator-evidence and biologic-review go into the ladder card.

docs/clinical-rules.md §4 "Fewer cards" (snoozing, decided before folding, holds a ladder
card back before this step: then nothing is folded).
"""

from __future__ import annotations

from service.pipeline.fold import fold
from service.pipeline.rules.model import Decision
from tests.support.fhir_builders import (
    ago,
    cards,
    condition,
    decide,
    mcas,
    mediators_elevated,
    medication,
    tier1,
)


def _d(topic: str) -> Decision:
    return Decision(topic=topic)


def test_a_ladder_decision_takes_in_mediator_evidence_and_biologic_review() -> None:
    given = [_d("tier-2"), _d("epinephrine-autoinjector"), _d("biologic-review"),
             _d("mediator-evidence")]
    folded = fold(given)
    assert [d.topic for d in folded] == ["tier-2", "epinephrine-autoinjector"]
    assert [d.topic for d in folded[0].folded] == ["mediator-evidence", "biologic-review"]
    # pure: the list it was given is unchanged
    assert [d.topic for d in given] == ["tier-2", "epinephrine-autoinjector",
                                        "biologic-review", "mediator-evidence"]
    assert given[0].folded == ()


def test_without_a_ladder_decision_nothing_is_folded() -> None:
    """A snoozed ladder card (held back before the fold): the two stay their own cards."""
    given = [_d("albuterol"), _d("mediator-evidence"), _d("biologic-review")]
    assert fold(given) == given
    assert fold([]) == []


def test_a_ladder_decision_alone_is_unchanged() -> None:
    given = [_d("tier-1"), _d("albuterol")]
    assert fold(given) == given


def omalizumab_refractory_in_review_window() -> list[dict]:
    """Refractory on omalizumab at 95 days (tier-4) and inside the 90-180-day review."""
    return [mcas(), *mediators_elevated(), medication(text="EpiPen"), *tier1(400),
            medication(code="88249", start=ago(300)), medication(code="302379", start=ago(95)),
            condition("T78.2XXA", onset=ago(40)), condition("T78.2XXA", onset=ago(10))]


def test_the_dupilumab_card_is_the_biologic_review_no_contradicting_card() -> None:
    resources = omalizumab_refractory_in_review_window()
    assert [d.topic for d in decide(resources)] == ["tier-4", "biologic-review"]
    found = cards(resources)
    assert [c["source"]["topic"]["code"] for c in found] == ["tier-4"]
    text = " ".join(found[0]["detail"].split())
    assert "Omalizumab active since" in text and ": 95 days" in text
    assert "this card is also the review of the response" in text
    # its own text covers the review: the folded card's short text is not repeated
    assert "Review the response to the biologic at 3 to 6 months" not in text


def test_the_worst_case_patient_gets_fewer_cards_without_a_contradiction() -> None:
    resources = [mcas(), condition("Z87.892"), condition("R06.2", onset=ago(3)),
                 medication(code="1191", start=ago(40)), medication(code="8640", start=ago(40)),
                 medication(code="302379", start=ago(100)),
                 medication(code="20610", start=ago(50))]
    unfolded = cards(resources, folded=False)
    found = cards(resources)
    assert len(unfolded) == 7 and len(found) == 5
    assert sum(len(c["summary"]) + len(c["detail"]) for c in found) < sum(
        len(c["summary"]) + len(c["detail"]) for c in unfolded)
    ladder = found[0]
    assert "**Mediator evidence missing**" in ladder["detail"]
    assert "**Biologic response review**" in ladder["detail"]
    # the folded card's proposals come along: the mediator tests
    labels = [s["label"] for s in ladder["suggestions"]]
    assert "Draft mediator tests for the next attack" in labels
    links = [link["url"] for link in ladder["links"]]
    assert len(links) == len(set(links)) and "https://doi.org/10.1159/000501079" in links
