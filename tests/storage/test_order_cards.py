"""Order-time cards in storage (issue 15), on both databases: the issued-card record keeps
the hook, user, draft order and encounter (migration 0006); feedback works for them; a card
answered at order-select is not shown again at order-sign to the same user; their topics
appear in the outcomes report and the metrics."""

from __future__ import annotations

import copy
import json
from typing import Any

from flask import Flask
from sqlalchemy import select

from service.storage.models import issued_cards
from service.storage.patient_hash import context_hash
from service.web.storage import storage
from tests.support.orders import SELECT_URL, SIGN_URL, as_hook, order_request
from tests.support.storage_fixtures import ADMIN_TOKEN, NOW, SALT

NAME = "order-trigger-drug--fires--nsaid-signed-after-selection"
NAPROXEN = "MedicationRequest/draft-naproxen"
IBUPROFEN_SIGN = "order-trigger-drug--fires--ibuprofen-at-order-sign"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _topics(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [c["source"]["topic"]["code"] for c in response.get_json()["cards"]]


def test_answered_at_order_select_not_shown_again_at_order_sign(storage_app: Flask) -> None:
    client = storage_app.test_client()
    sign = order_request(NAME, NOW)
    select_request = as_hook(sign, "order-select", [NAPROXEN])
    selected = client.post(SELECT_URL, json=select_request)
    assert _topics(selected) == ["order-trigger-drug"]
    card = selected.get_json()["cards"][0]

    # Not answered yet: order-sign shows it again.
    assert _topics(client.post(SIGN_URL, json=sign)) == ["order-trigger-drug"]

    feedback = {"feedback": [{
        "card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": NOW.isoformat(),
        "overrideReason": {"reason": card["overrideReasons"][0]}}]}
    answer = client.post(f"{SELECT_URL}/feedback", json=feedback)
    assert answer.status_code == 200 and answer.get_json()["stored"] == 1

    assert _topics(client.post(SIGN_URL, json=sign)) == []
    other_user = {**sign, "context": {**sign["context"], "userId": "Practitioner/other"}}
    assert _topics(client.post(SIGN_URL, json=other_user)) == ["order-trigger-drug"]

    with storage_app.app_context():
        engine = storage().engine()
        with engine.connect() as connection:
            rows = connection.execute(
                select(issued_cards).order_by(issued_cards.c.id)).mappings().all()
    first = rows[0]
    assert first["card_uuid"] == card["uuid"] and first["hook"] == "order-select"
    assert first["draft_order_id"] == NAPROXEN and first["snooze_key"] == "naproxen:oral"
    assert first["test"] is True and first["fingerprint"]  # a fixture patient: test traffic
    salt = SALT.encode() if isinstance(SALT, str) else SALT
    assert first["user_hash"] == context_hash(salt, "user", "Practitioner/example-prescriber")
    assert first["encounter_hash"] == context_hash(salt, "encounter",
                                                   sign["context"]["encounterId"])
    assert "Practitioner" not in str(dict(first)) and "enc-" not in str(dict(first))
    assert [r["hook"] for r in rows] == ["order-select", "order-sign", "order-sign"]

    # the fixture patient is a test patient: its cards are in the report when asked for
    report = client.get("/admin/api/feedback-report?until=2026-11-26&include_test=true",
                        headers=ADMIN)
    assert report.status_code == 200
    [row] = [t for t in report.get_json()["topics"] if t["topic"] == "order-trigger-drug"]
    assert row["issued"] == 3 and row["overridden"] == 1
    assert row["override_reasons"][0]["code"] == "benefit-outweighs-risk"


def test_patient_view_cards_record_their_hook(storage_app: Flask, sandbox_hook: dict[str, Any]
                                              ) -> None:
    client = storage_app.test_client()
    assert client.post("/cds-services/mcas-therapy-tier", json=sandbox_hook["body"]
                       ).status_code == 200
    with storage_app.app_context(), storage().engine().connect() as connection:
        rows = connection.execute(select(issued_cards)).mappings().all()
    assert rows and {r["hook"] for r in rows} == {"patient-view"}
    assert {r["draft_order_id"] for r in rows} == {None}
    assert {r["user_hash"] for r in rows} == {None}


def _real_patient(request: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """The fixture's request for a patient who is no test patient (test patients are
    never snoozed unless MCAS_SNOOZE_TEST_PATIENTS)."""
    old = request["context"]["patientId"]
    return dict(json.loads(json.dumps(request).replace(old, patient_id)))


def test_tolerated_before_snoozes_the_same_ingredient_and_route(storage_app: Flask) -> None:
    """docs/clinical-rules.md §7: an NSAID card overridden with "Tolerated before" is not
    shown at the next order-sign for the same ingredient and route; another route is."""
    client = storage_app.test_client()
    sign = _real_patient(order_request(IBUPROFEN_SIGN, NOW), "mcas-order-snooze-1")
    first = client.post(SIGN_URL, json=sign)
    assert _topics(first) == ["order-trigger-drug"]
    card = first.get_json()["cards"][0]
    [reason] = [r for r in card["overrideReasons"] if r["code"] == "tolerated-before"]
    feedback = {"feedback": [{
        "card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": NOW.isoformat(),
        "overrideReason": {"reason": reason}}]}
    answer = client.post(f"{SIGN_URL}/feedback", json=feedback)
    assert answer.status_code == 200 and answer.get_json()["stored"] == 1

    again = copy.deepcopy(sign)
    again["context"]["draftOrders"]["entry"][0]["resource"]["id"] = "draft-ibuprofen-2"
    assert _topics(client.post(SIGN_URL, json=again)) == []

    other_route = copy.deepcopy(again)
    draft = other_route["context"]["draftOrders"]["entry"][0]["resource"]
    draft["dosageInstruction"] = [{"route": {"text": "intravenous"}}]
    assert _topics(client.post(SIGN_URL, json=other_route)) == ["order-trigger-drug"]

    with storage_app.app_context(), storage().engine().connect() as connection:
        rows = connection.execute(
            select(issued_cards).order_by(issued_cards.c.id)).mappings().all()
    assert [(r["status"], r["snooze_key"], r["test"]) for r in rows] == [
        ("issued", "ibuprofen:oral", False),
        ("snoozed", "ibuprofen:oral", False),
        ("issued", "ibuprofen:intravenous", False),
    ]


def test_a_test_patient_is_not_snoozed_at_order_time(storage_app: Flask) -> None:
    """The bundled fixtures are test patients: "Tolerated before" does not snooze them
    (MCAS_SNOOZE_TEST_PATIENTS is off), so `mcas-cds check` gives the same answer."""
    client = storage_app.test_client()
    sign = order_request(IBUPROFEN_SIGN, NOW)
    card = client.post(SIGN_URL, json=sign).get_json()["cards"][0]
    [reason] = [r for r in card["overrideReasons"] if r["code"] == "tolerated-before"]
    feedback = {"feedback": [{
        "card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": NOW.isoformat(),
        "overrideReason": {"reason": reason}}]}
    assert client.post(f"{SIGN_URL}/feedback", json=feedback).status_code == 200
    assert _topics(client.post(SIGN_URL, json=sign)) == ["order-trigger-drug"]
