"""The outcomes view's per-service rows with real order cards (issue 16): the bundled
order fixtures fired through the app at order-select and order-sign, as real patients,
beside patient-view fixtures; feedback accepted and overridden with a reason; an order
card snoozed by "Tolerated before". The report's service rows (JSON), the command line's
table and the CSV agree with what was fired, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import csv
import io
import json
from collections import Counter
from typing import Any

from flask import Flask

from service.scenarios.fixtures import FIXTURES_DIR
from tests.support.orders import SELECT_URL, SIGN_URL, order_request
from tests.support.outcomes_seed import ADMIN, as_real_patient, fire_fixtures
from tests.support.storage_fixtures import NOW

PERIOD = {"since": "2026-11-01", "until": "2026-12-01"}
URLS = {"order-select": SELECT_URL, "order-sign": SIGN_URL}
IBUPROFEN_SIGN = "order-trigger-drug--fires--ibuprofen-at-order-sign"
PATIENT_VIEW = {"tier-2--fires--refractory-two-episodes": 1,
                "albuterol--fires--wheezing-no-albuterol": 1}


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


def test_order_time_rows_agree_with_the_order_cards_fired(storage_app: Flask) -> None:
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

    response = client.get("/admin/api/feedback-report", query_string=PERIOD, headers=ADMIN)
    assert response.status_code == 200
    report = response.get_json()
    services = {row["service"]: row for row in report["services"]}
    order_time = services["order-time"]
    assert order_time["issued"] == len(ordered)
    assert order_time["snoozed"] == 1
    assert order_time["accepted"] == 1 and order_time["overridden"] == 2
    assert order_time["acceptance_rate"] == round(1 / 3, 4)
    assert order_time["patients"] == len(patients)
    assert services["patient-view"]["issued"] == len(viewed)
    assert services["patient-view"]["snoozed"] == 0
    assert services["patient-view"]["accepted"] == services["patient-view"]["overridden"] == 0
    # per topic, the order cards count under their own topics
    topics = {row["topic"]: row for row in report["topics"]}
    fired = Counter(c["source"]["topic"]["code"] for c in [*viewed, *ordered])
    assert {t: r["issued"] for t, r in topics.items()} == dict(fired)
    assert topics["order-trigger-drug"]["snoozed"] == 1
    codes = {r["code"] for r in topics[overridden["source"]["topic"]["code"]]
             ["override_reasons"]}
    assert reason["code"] in codes

    # The CSV's service rows and the command line's JSON and table say the same.
    download = client.get("/admin/api/feedback-report",
                          query_string={**PERIOD, "format": "csv"}, headers=ADMIN)
    rows = {(r[0], r[1]): r for r in csv.reader(io.StringIO(download.get_data(as_text=True)))}
    order_row = rows[("service", "order-time")]
    assert order_row[2:8] == [str(order_time[k]) for k in
                              ("issued", "patients", "snoozed", "accepted", "overridden")
                              ] + [f"{order_time['acceptance_rate']:.4f}"]
    assert rows[("service", "patient-view")][2] == str(len(viewed))
    runner = storage_app.test_cli_runner()
    args = ["feedback-report", "--since", PERIOD["since"], "--until", PERIOD["until"]]
    assert json.loads(runner.invoke(args=[*args, "--format", "json"]).output) == report
    table = runner.invoke(args=args).output
    [line] = [line for line in table.splitlines() if line.startswith("[order-time]")]
    assert line.split()[1:7] == [str(order_time["issued"]), str(order_time["patients"]), "1",
                                 "1", "2", "33%"]


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
