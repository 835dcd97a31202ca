"""Whole hook calls through the HTTP endpoint: the recorded Sandbox call and 412/scope order."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app

RECORDED_AT = datetime(2026, 11, 25, 11, 44, 40, tzinfo=UTC)
URL = "/cds-services/mcas-therapy-tier"


@pytest.fixture
def frozen_client() -> FlaskClient:
    return create_app({"TESTING": True, "CLOCK": lambda: RECORDED_AT}).test_client()


def test_sandbox_recording_gives_tier2_and_albuterol(
    frozen_client: FlaskClient, sandbox_hook: dict
) -> None:
    response = frozen_client.post(URL, json=sandbox_hook["body"])
    assert response.status_code == 200
    found = response.get_json()["cards"]
    assert [c["source"]["topic"]["code"] for c in found] == ["tier-2", "albuterol"]
    tier2 = found[0]
    first = tier2["suggestions"][0]["actions"][0]["resource"]
    assert first["medicationCodeableConcept"]["coding"][0]["code"] == "88249"  # montelukast
    assert "Leukotriene E4 is elevated" in tier2["detail"]
    assert "since 2026-06-28" in tier2["detail"]
    assert first["subject"] == {"reference": "Patient/mcas-1"}


def body_without(sandbox_hook: dict, *keys: str, nulls: tuple[str, ...] = ()) -> dict[str, Any]:
    body = copy.deepcopy(sandbox_hook["body"])
    body.pop("fhirServer", None)
    for key in keys:
        del body["prefetch"][key]
    for key in nulls:
        body["prefetch"][key] = None
    return body


def test_missing_conditions_is_412(
    frozen_client: FlaskClient, sandbox_hook: dict
) -> None:
    response = frozen_client.post(URL, json=body_without(sandbox_hook, "conditions"))
    assert response.status_code == 412
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_both_medication_keys_missing_is_412_but_one_is_enough(
    frozen_client: FlaskClient, sandbox_hook: dict
) -> None:
    both = body_without(sandbox_hook, "medicationStatements", "medicationRequests")
    assert frozen_client.post(URL, json=both).status_code == 412
    one = body_without(sandbox_hook, "medicationRequests")
    response = frozen_client.post(URL, json=one)
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    assert cards == [] or all("Not available: medicationRequests" in c["detail"] for c in cards)
    assert not {"tier-2", "albuterol"} & {c["source"]["topic"]["code"] for c in cards}


def test_out_of_scope_gets_no_cards_whatever_else_is_missing(
    frozen_client: FlaskClient, sandbox_hook: dict
) -> None:
    body = body_without(sandbox_hook, "medicationStatements", "medicationRequests", "observations")
    for entry in body["prefetch"]["conditions"]["entry"]:
        coding = entry["resource"]["code"]["coding"][0]
        if coding["code"] == "D89.42":
            coding["code"] = "D89.44"
    response = frozen_client.post(URL, json=body)
    assert response.status_code == 200 and response.get_json() == {"cards": []}


def test_null_observations_is_real_absence_but_missing_is_unknown(
    frozen_client: FlaskClient, sandbox_hook: dict
) -> None:
    null = frozen_client.post(URL, json=body_without(sandbox_hook, nulls=("observations",)))
    ladder = null.get_json()["cards"][0]
    # folded into the ladder card (docs/clinical-rules.md §4 "Fewer cards")
    assert ladder["source"]["topic"]["code"] == "tier-2"
    assert "**Mediator evidence missing**" in ladder["detail"]
    missing = frozen_client.post(URL, json=body_without(sandbox_hook, "observations"))
    topics = [c["source"]["topic"]["code"] for c in missing.get_json()["cards"]]
    assert "mediator-evidence" not in topics and topics[0] == "tier-2"
    assert "Mediator evidence missing" not in missing.get_json()["cards"][0]["detail"]
