"""POST /admin/api/explain for order-select and order-sign requests (issue 16): the order
rules' comparisons per draft order, with the administrator's token; the card history read
as the hook reads it ("not twice" held back after an answered order-select card); nothing
recorded, nothing of the answer logged."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from service import create_app
from service.storage.models import issued_cards
from tests.support.orders import SELECT_URL, as_hook, order_request
from tests.support.storage_fixtures import ADMIN_TOKEN, NOW

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Admin-Name": "Dr A. Admin"}
EXPLAIN = "/admin/api/explain"
NAPROXEN_SIGN = "order-trigger-drug--fires--nsaid-signed-after-selection"
NAPROXEN = "MedicationRequest/draft-naproxen"


@pytest.fixture
def admin_app(tmp_path: Any) -> Flask:
    return create_app({"TESTING": True, "AUTH_DISABLED": True, "ADMIN_TOKEN": ADMIN_TOKEN,
                       "DATA_DIR": str(tmp_path / "data"), "CLOCK": lambda: NOW})


def _issued(app: Flask) -> int:
    with app.app_context():
        engine = app.extensions["mcas_storage"].engine()
        with engine.connect() as connection:
            return int(connection.execute(
                select(func.count()).select_from(issued_cards)).scalar() or 0)


def test_an_order_request_needs_the_admin_token(admin_app: Flask) -> None:
    response = admin_app.test_client().post(EXPLAIN, json=order_request(NAPROXEN_SIGN, NOW))
    assert response.status_code == 401


def test_an_order_sign_request_is_explained_per_draft_and_logs_no_content(
    admin_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    body = order_request(NAPROXEN_SIGN, NOW)
    with caplog.at_level(logging.DEBUG):
        response = admin_app.test_client().post(EXPLAIN, json=body, headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["hook"] == "order-sign"
    assert [(c["topic"], c["draft"]) for c in answer["cards"]] == [
        ("order-trigger-drug", NAPROXEN)]
    match = next(c for c in answer["comparisons"] if c["rule"] == "order.trigger.match")
    assert (match["value"], match["threshold"], match["op"], match["result"], match["draft"]) == (
        1, 1, ">=", True, NAPROXEN)
    drafts = {d["draft"]: d for d in answer["read"]["drafts"]}
    assert drafts[NAPROXEN]["position"] == 1 and drafts[NAPROXEN]["judged"] is True
    # recording is on: the history was read as the hook reads it (nothing in it yet)
    assert answer["history"]["read"] is True and answer["history"]["answered_cards"] == 0
    window = next(c for c in answer["comparisons"] if c["rule"] == "order.not_twice.window")
    assert window["value"] is None and window["result"] is False
    audit = [r for r in caplog.records if getattr(r, "audit", None) == "explain"]
    assert len(audit) == 1
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str)
                       for r in caplog.records)
    assert "naproxen" not in logged and "order.trigger" not in logged
    assert body["context"]["patientId"] not in logged
    assert _issued(admin_app) == 0


def test_not_twice_after_an_answered_order_select_card(admin_app: Flask) -> None:
    client = admin_app.test_client()
    sign = order_request(NAPROXEN_SIGN, NOW)
    selected = client.post(SELECT_URL, json=as_hook(sign, "order-select", [NAPROXEN]))
    assert selected.status_code == 200
    card = selected.get_json()["cards"][0]
    feedback = {"feedback": [{
        "card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": NOW.isoformat(),
        "overrideReason": {"reason": card["overrideReasons"][0]}}]}
    assert client.post(f"{SELECT_URL}/feedback", json=feedback).status_code == 200
    before = _issued(admin_app)

    answer = client.post(EXPLAIN, json=sign, headers=ADMIN).get_json()
    assert answer["cards"] == []
    window = next(c for c in answer["comparisons"] if c["rule"] == "order.not_twice.window")
    assert (window["value"], window["unit"], window["op"], window["result"]) == (
        0.0, "min", "<=", True)
    assert answer["held_back"] == [{
        "topic": "order-trigger-drug", "draft": NAPROXEN, "held_back": "not_twice",
        "why": answer["held_back"][0]["why"]}]
    decision = next(d for d in answer["decisions"] if d["topic"] == "order-trigger-drug")
    assert decision["fired"] is True and decision["shown"] is False
    assert answer["history"]["answered_cards"] == 1
    assert _issued(admin_app) == before  # explain recorded nothing


def test_an_order_fixture_explained_by_name(admin_app: Flask) -> None:
    response = admin_app.test_client().post(
        f"{EXPLAIN}/fixtures/order-ranitidine--fires--ranitidine-draft", headers=ADMIN)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["hook"] == "order-select"
    assert [c["topic"] for c in answer["cards"]] == ["order-ranitidine"]
    assert any(c["rule"] == "order.ranitidine.withdrawn" and c["result"]
               for c in answer["comparisons"])
