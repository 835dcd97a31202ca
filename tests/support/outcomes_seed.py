"""A database of fired fixtures and posted feedback, for the outcomes report and page tests."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from service.scenarios.fixtures import FIXTURES_DIR, load_fixture, request_for
from tests.support.storage_fixtures import ADMIN_TOKEN, NOW

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SERVICE = "/cds-services/mcas-therapy-tier"
# fixture -> how many times it is fired (the same patient each time)
FIRED = {
    "tier-2--fires--refractory-two-episodes": 2,
    "omalizumab-dose--fires--150-mg-every-4-weeks": 1,
    "epinephrine-autoinjector--fires--history-z87-892": 1,
    "albuterol--fires--wheezing-no-albuterol": 1,
    "steroid-long-term--fires--prednisone-over-14-days": 1,
}
ACCEPTED = "epinephrine-autoinjector"
OVERRIDE = {"system": "https://mcas-cds.invalid/override-reason", "code": "patient-declined",
            "display": "Patient declined"}


TEST_PREFIX = "mcas-test-"


def as_real_patient(request: dict[str, Any]) -> dict[str, Any]:
    """The request with its test patient (``mcas-test-...``, as every bundled fixture)
    renamed, so its cards count as clinical use rather than test traffic."""
    renamed: dict[str, Any] = json.loads(json.dumps(request).replace(TEST_PREFIX, "site-"))
    return renamed


def fire_fixtures(app: Flask, *, test: bool = False,
                  fired: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Fire each fixture of ``fired`` (FIRED) its number of times, as a real patient unless
    ``test``; every card answered, in order."""
    client = app.test_client()
    cards: list[dict[str, Any]] = []
    for name, times in (fired or FIRED).items():
        path = FIXTURES_DIR / f"{name}.json"
        if not path.is_file() or times == 0:
            continue
        fixture = load_fixture(path)
        for _ in range(times):
            request = request_for(fixture, NOW)
            response = client.post(SERVICE, json=request if test else as_real_patient(request))
            assert response.status_code == 200, response.get_json()
            cards += response.get_json()["cards"]
    return cards


def seed(app: Flask) -> list[dict[str, Any]]:
    """Fired fixtures, then feedback: epinephrine auto-injector cards accepted, every tier-2 and
    albuterol card overridden (tier-2 with a reason), so each count is known."""
    cards = fire_fixtures(app)
    items = []
    for n, card in enumerate(cards):
        topic = card["source"]["topic"]["code"]
        stamp = f"2026-11-25T11:50:{n:02d}Z"
        if topic == ACCEPTED:
            suggestion = card["suggestions"][0]["uuid"]
            items.append({"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": stamp,
                          "acceptedSuggestions": [{"id": suggestion}]})
        elif topic in {"tier-2", "albuterol"}:
            item: dict[str, Any] = {"card": card["uuid"], "outcome": "overridden",
                                    "outcomeTimestamp": stamp}
            if topic == "tier-2":
                item["overrideReason"] = {"reason": OVERRIDE}
            items.append(item)
    response = app.test_client().post(f"{SERVICE}/feedback", json={"feedback": items})
    assert response.status_code == 200, response.get_json()
    return cards
