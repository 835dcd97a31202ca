"""The outcomes view's per-service rows with real order cards (issue 16): the bundled
order fixtures fired through the app at order-select and order-sign, as real patients,
beside patient-view fixtures; feedback accepted and overridden with a reason; an order
card snoozed by "Tolerated before" (tests/support/outcomes_orders.py). The report's
service rows (JSON), the command line's table and the CSV agree with what was fired, on
SQLite and PostgreSQL; the page's numbers: tests/web/test_admin_outcomes_browser.py."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

from flask import Flask

from tests.support.outcomes_orders import seed_orders
from tests.support.outcomes_seed import ADMIN

PERIOD = {"since": "2026-11-01", "until": "2026-12-01"}


def test_order_time_rows_agree_with_the_order_cards_fired(storage_app: Flask) -> None:
    seeded = seed_orders(storage_app)
    viewed, ordered, patients = seeded.viewed, seeded.ordered, seeded.patients
    overridden, reason = seeded.overridden, seeded.reason
    client = storage_app.test_client()

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

