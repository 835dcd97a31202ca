"""Order-time cards in storage (issue 15), on both databases: the issued-card record keeps
the hook, user, draft order and encounter (migration 0006); feedback works for them; a card
answered at order-select is not shown again at order-sign to the same user; their topics
appear in the outcomes report and the metrics."""

from __future__ import annotations

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
    assert first["draft_order_id"] == NAPROXEN and first["order_item"] == "naproxen:oral"
    salt = SALT.encode() if isinstance(SALT, str) else SALT
    assert first["user_hash"] == context_hash(salt, "user", "Practitioner/example-prescriber")
    assert first["encounter_hash"] == context_hash(salt, "encounter",
                                                   sign["context"]["encounterId"])
    assert "Practitioner" not in str(dict(first)) and "enc-" not in str(dict(first))
    assert [r["hook"] for r in rows] == ["order-select", "order-sign", "order-sign"]

    report = client.get("/admin/api/feedback-report?until=2026-11-26", headers=ADMIN)
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
