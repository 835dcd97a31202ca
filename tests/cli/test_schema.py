"""The CDS Hooks 2.0 response schema shipped in service/cdshooks/schemas (one copy for the command
line and the tests)."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from service.cdshooks.schemas import DISCOVERY, RESPONSE, load_schema, violations
from tests.support.paths import ROOT


def test_schemas_are_valid_json_schema() -> None:
    for name in (RESPONSE, DISCOVERY):
        Draft202012Validator.check_schema(load_schema(name))


def test_the_spec_example_response_conforms() -> None:
    # CDS Hooks 2.0.1, "CDS Service Response" example (abridged, members kept as given).
    example = {
        "cards": [
            {
                "uuid": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "summary": "Example Card",
                "indicator": "info",
                "detail": "This is an example card.",
                "source": {
                    "label": "Static CDS Service Example",
                    "url": "https://example.com",
                    "icon": "https://example.com/img/icon-100px.png",
                },
                "links": [
                    {"label": "Google", "url": "https://google.com", "type": "absolute"},
                    {"label": "Github", "url": "https://github.com", "type": "absolute"},
                    {"label": "SMART Example App", "url": "https://smart.example.com/launch",
                     "type": "smart", "appContext": "{\"session\":3456356}"},
                ],
                "suggestions": [
                    {
                        "label": "The text on the suggestion button",
                        "uuid": "e56e1945-20b3-4393-8503-a1a20fd73152",
                        "isRecommended": True,
                        "actions": [
                            {"type": "update", "description": "Update the order",
                             "resource": {"resourceType": "ServiceRequest", "id": "x"}}
                        ],
                    }
                ],
                "selectionBehavior": "at-most-one",
                "overrideReasons": [
                    {"code": "reason-code-provided-by-service", "system": "http://example.org",
                     "display": "Patient refused"}
                ],
            }
        ],
        "systemActions": [
            {"type": "delete", "description": "Remove", "resourceId": "ServiceRequest/1"}
        ],
    }
    assert violations(example) == []
    assert violations({"cards": []}) == []  # requirement 3: the one empty array allowed


def test_null_and_empty_members_are_violations_anywhere() -> None:
    card = {"summary": "s", "indicator": "info", "source": {"label": "l", "topic": {
        "system": "x", "code": "c", "display": ""}}}
    found = violations({"cards": [card], "extension": {"x": None}})
    assert "cards[0].source.topic.display: \"\" (leave optional members out)" in found
    assert "extension.x: null (leave optional members out)" in found


def test_summary_limit_is_under_140_characters() -> None:
    card = {"summary": "x" * 139, "indicator": "info", "source": {"label": "l"}}
    assert violations({"cards": [card]}) == []
    card["summary"] = "x" * 140
    assert any(v.startswith("cards[0].summary") for v in violations({"cards": [card]}))


def test_appcontext_only_on_smart_links() -> None:
    card = {"summary": "s", "indicator": "info", "source": {"label": "l"}, "links": [
        {"label": "a", "url": "https://a.example", "type": "absolute", "appContext": "x"}]}
    assert violations({"cards": [card]})


def test_one_schema_file_in_the_project() -> None:
    skip = {".venv", "build", "dist", "node_modules"}
    copies = [
        p
        for p in ROOT.rglob("*response*.schema.json")
        if not skip & set(p.relative_to(ROOT).parts)
    ]
    names = sorted(str(p.relative_to(ROOT)) for p in copies)
    assert names == ["service/cdshooks/schemas/cds-hooks-2.0-response.schema.json"], names
    assert re.search(r"\"maxLength\": 139", copies[0].read_text())
