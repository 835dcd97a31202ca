"""The CDS Hooks 2.0 response schema itself: it accepts good responses and catches bad ones.

The e2e tests trust this schema to judge every response, so it must be able to fail.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.schemas import response_validator

VALIDATOR = response_validator()


def _good_card() -> dict[str, Any]:
    return {
        "uuid": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
        "summary": "Complete first-line therapy: add an H2 antihistamine",
        "detail": "**Why:** cetirizine active since 2026-01-02; no H2 antihistamine active.",
        "indicator": "info",
        "source": {
            "label": "MCAS therapy ladder",
            "url": "https://pubmed.ncbi.nlm.nih.gov/31476322/",
            "topic": {"system": "https://mcas-cds.invalid/topics", "code": "tier-1"},
        },
        "suggestions": [
            {
                "label": "Famotidine (prescriber completes the dose)",
                "uuid": "b2c5a0d4-7a1f-4f0e-9d9c-2f3b0a7d1e11",
                "isRecommended": True,
                "actions": [
                    {
                        "type": "create",
                        "description": "Draft a famotidine order",
                        "resource": {
                            "resourceType": "MedicationRequest",
                            "status": "draft",
                            "intent": "proposal",
                            "medicationCodeableConcept": {"text": "famotidine"},
                            "subject": {"reference": "Patient/p1"},
                        },
                    }
                ],
            }
        ],
        "selectionBehavior": "at-most-one",
        "overrideReasons": [
            {"system": "https://mcas-cds.invalid/override", "code": "x", "display": "Declined"}
        ],
        "links": [
            {
                "label": "Weiler 2019",
                "url": "https://pubmed.ncbi.nlm.nih.gov/31476322/",
                "type": "absolute",
            },
            {
                "label": "App",
                "url": "https://smart.example.org/launch",
                "type": "smart",
                "appContext": "{\"a\":1}",
            },
        ],
    }


def _order_card() -> dict[str, Any]:
    """An order-time card (issue 15): replace a ranitidine draft by a famotidine draft."""
    card = _good_card()
    card["suggestions"][0]["actions"].append(
        {"type": "delete", "description": "Remove the draft order",
         "resourceId": "MedicationRequest/draft-ranitidine"})
    card["extension"] = {"org.mcas-cds.draft-order": "MedicationRequest/draft-ranitidine"}
    return card


GOOD_RESPONSES: dict[str, dict[str, Any]] = {
    "order card replacing a draft": {"cards": [_order_card()]},
    "no guidance (req 77)": {"cards": []},
    "full card": {"cards": [_good_card()]},
    "minimal card": {
        "cards": [{"summary": "s", "indicator": "warning", "source": {"label": "l"}}]
    },
    "system actions": {
        "cards": [],
        "systemActions": [
            {"type": "delete", "description": "Remove", "resourceId": "ServiceRequest/1"}
        ],
    },
    "spec example": {
        "cards": [
            {
                "summary": "Another card",
                "indicator": "warning",
                "source": {"label": "Static CDS Service Example"},
                "overrideReasons": [
                    {
                        "code": "12354",
                        "system": "http://example.org/override-reasons",
                        "display": "Contraindicated",
                    }
                ],
            }
        ]
    },
}


@pytest.mark.parametrize("name", sorted(GOOD_RESPONSES))
def test_good_responses_pass(name: str) -> None:
    errors = [e.message for e in VALIDATOR.iter_errors(GOOD_RESPONSES[name])]
    assert errors == []


def _card_change(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    card = copy.deepcopy(_good_card())
    change(card)
    return {"cards": [card]}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(card: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = card
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return apply


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(card: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = card
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return apply


BAD_CARDS: dict[str, Callable[[dict[str, Any]], None]] = {
    "req 83 summary of 140 characters": _set("summary", "x" * 140),
    "req 83 summary missing": _drop("summary"),
    "req 88 unknown indicator": _set("indicator", "hard-stop"),
    "req 87 indicator missing": _drop("indicator"),
    "req 90 source missing": _drop("source"),
    "req 105 source label missing": _drop("source.label"),
    "req 107 relative source url": _set("source.url", "/evidence"),
    "req 216 topic without code": _drop("source.topic.code"),
    "req 217 topic without system": _drop("source.topic.system"),
    "req 96 suggestions without selectionBehavior": _drop("selectionBehavior"),
    "req 95 unknown selectionBehavior": _set("selectionBehavior", "all"),
    "req 117 suggestion without label": _drop("suggestions.0.label"),
    "req 121 isRecommended not boolean": _set("suggestions.0.isRecommended", "yes"),
    "req 127 unknown action type": _set("suggestions.0.actions.0.type", "order"),
    "req 128 action without description": _drop("suggestions.0.actions.0.description"),
    "req 131 create without resource": _drop("suggestions.0.actions.0.resource"),
    "req 100 override reason without display": _drop("overrideReasons.0.display"),
    "req 141 link without type": _drop("links.0.type"),
    "req 142 unknown link type": _set("links.0.type", "relative"),
    "req 147 appContext on an absolute link": _set("links.0.appContext", "x"),
    "req 139 link with a relative url": _set("links.0.url", "evidence/weiler"),
    "req 3 null detail": _set("detail", None),
    "req 3 empty detail": _set("detail", ""),
    "req 3 empty links": _set("links", []),
    "req 3 empty suggestions": _set("suggestions", []),
    "req 3 empty overrideReasons": _set("overrideReasons", []),
    "req 3 null uuid": _set("uuid", None),
    "req 3 empty topic display": _set("source.topic.display", ""),
    "req 3 empty object deep in a resource": _set(
        "suggestions.0.actions.0.resource.medicationCodeableConcept", {}
    ),
    "req 3 null deep in a resource": _set("suggestions.0.actions.0.resource.note", None),
    "req 3 empty array deep in a resource": _set(
        "suggestions.0.actions.0.resource.dosageInstruction", []
    ),
    "req 134 delete without resourceId": _set(
        "suggestions.0.actions.0", {"type": "delete", "description": "Remove"}),
    "req 134 resourceId not a relative reference": _set(
        "suggestions.0.actions.0",
        {"type": "delete", "description": "Remove", "resourceId": "draft-ranitidine"}),
    "misspelt member": _set("overrideReason", [{"system": "s", "code": "c", "display": "d"}]),
    "req 122 two recommended with at-most-one": _set(
        "suggestions",
        [
            {"label": "a", "isRecommended": True},
            {"label": "b", "isRecommended": True},
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_CARDS))
def test_bad_cards_fail(name: str) -> None:
    assert not VALIDATOR.is_valid(_card_change(BAD_CARDS[name]))


@pytest.mark.parametrize(
    "response",
    [
        {},
        {"cards": None},
        {"cards": {}},
        {"cards": [], "systemActions": []},
        {"cards": [], "systemActions": None},
        {"cards": [], "unknown": 1},
        {"cards": [None]},
    ],
    ids=["no cards", "null cards", "cards object", "empty systemActions",
         "null systemActions", "unknown member", "null card"],
)
def test_bad_responses_fail(response: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(response)


def test_summary_of_139_characters_passes() -> None:
    assert VALIDATOR.is_valid(_card_change(_set("summary", "x" * 139)))


def test_any_allows_several_recommended() -> None:
    def change(card: dict[str, Any]) -> None:
        card["selectionBehavior"] = "any"
        card["suggestions"] = [
            {"label": "a", "isRecommended": True},
            {"label": "b", "isRecommended": True},
        ]

    assert VALIDATOR.is_valid(_card_change(change))
