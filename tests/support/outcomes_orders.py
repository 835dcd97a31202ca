"""Order-time cards for the outcomes tests (issue 16): the bundled order fixtures fired
through the app at order-select and order-sign as real patients, beside patient-view
fixtures; feedback accepted and overridden with a reason; an order card snoozed by
"Tolerated before". What was fired is returned, to be checked against the report."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from flask import Flask

from service.scenarios.fixtures import FIXTURES_DIR
from tests.support.orders import SELECT_URL, SIGN_URL, order_request
from tests.support.outcomes_seed import as_real_patient, fire_fixtures
from tests.support.storage_fixtures import NOW

URLS = {"order-select": SELECT_URL, "order-sign": SIGN_URL}
IBUPROFEN_SIGN = "order-trigger-drug--fires--ibuprofen-at-order-sign"
PATIENT_VIEW = {"tier-2--fires--refractory-two-episodes": 1,
                "albuterol--fires--wheezing-no-albuterol": 1}


@dataclass
class OrderSeed:
    viewed: list[dict[str, Any]]  # patient-view cards
    ordered: list[dict[str, Any]]  # order-time cards shown
    patients: set[str]  # the order cards' patients
    accepted: dict[str, Any]
    overridden: dict[str, Any]
    reason: dict[str, Any]


def _order_fixtures() -> list[str]:
    return sorted(p.stem for p in FIXTURES_DIR.glob("order-*--fires--*.json"))


def _fire_orders(app: Flask) -> tuple[list[dict[str, Any]], set[str]]:
    client = app.test_client()
    cards: list[dict[str, Any]] = []
    patients: set[str] = set()
    for name in _order_fixtures():
        request = as_real_patient(order_request(name, NOW))
        response = client.post(URLS[request["hook"]], json=request)
        assert response.status_code == 200, (name, response.get_json())
        answered = response.get_json()["cards"]
        assert answered, name  # a "fires" fixture answers with a card
        cards += answered
        patients.add(request["context"]["patientId"])
    return cards, patients


def _post(app: Flask, url: str, items: list[dict[str, Any]]) -> None:
    response = app.test_client().post(f"{url}/feedback", json={"feedback": items})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stored"] == len(items)


def seed_orders(storage_app: Flask) -> OrderSeed:
    viewed = fire_fixtures(storage_app, fired=PATIENT_VIEW)
    ordered, patients = _fire_orders(storage_app)
    assert viewed and len(ordered) >= 5

    # Feedback: the first order card with a suggestion accepted, another overridden with
    # its first reason.
    stamp = NOW.isoformat()
    accepted = next(c for c in ordered if c.get("suggestions"))
    overridden = next(c for c in ordered if c is not accepted and c.get("overrideReasons"))
    reason = overridden["overrideReasons"][0]
    _post(storage_app, SIGN_URL, [
        {"card": accepted["uuid"], "outcome": "accepted", "outcomeTimestamp": stamp,
         "acceptedSuggestions": [{"id": accepted["suggestions"][0]["uuid"]}]},
        {"card": overridden["uuid"], "outcome": "overridden", "outcomeTimestamp": stamp,
         "overrideReason": {"reason": reason}},
    ])

    # A snoozed order card: ibuprofen tolerated before, then another ibuprofen draft.
    client = storage_app.test_client()
    sign = as_real_patient(order_request(IBUPROFEN_SIGN, NOW))
    sign["context"]["patientId"] = "site-order-snooze"
    for entry in sign["prefetch"].values():
        _rename(entry, sign["context"]["patientId"])
    first = client.post(SIGN_URL, json=sign).get_json()["cards"]
    assert [c["source"]["topic"]["code"] for c in first] == ["order-trigger-drug"]
    [tolerated] = [r for r in first[0]["overrideReasons"] if r["code"] == "tolerated-before"]
    _post(storage_app, SIGN_URL, [{"card": first[0]["uuid"], "outcome": "overridden",
                                   "outcomeTimestamp": stamp,
                                   "overrideReason": {"reason": tolerated}}])
    again = copy.deepcopy(sign)
    again["context"]["draftOrders"]["entry"][0]["resource"]["id"] = "draft-ibuprofen-2"
    assert client.post(SIGN_URL, json=again).get_json()["cards"] == []
    ordered += first
    patients.add("site-order-snooze")
    return OrderSeed(viewed, ordered, patients, accepted, overridden, reason)


def _rename(value: Any, patient: str) -> None:
    """Point the prefetch's patient references at ``patient`` (in place)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.startswith("Patient/"):
                value[key] = f"Patient/{patient}"
            elif key == "id" and value.get("resourceType") == "Patient":
                value[key] = patient
            else:
                _rename(item, patient)
    elif isinstance(value, list):
        for item in value:
            _rename(item, patient)
