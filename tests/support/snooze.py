"""Helpers for the snooze tests (issue 14): the Sandbox's patient fired and overridden."""

from __future__ import annotations

import copy
import json
from typing import Any

from flask import Flask

from tests.support.paths import load_recording

HOOK = "/cds-services/mcas-therapy-tier"
FEEDBACK = HOOK + "/feedback"
# The Sandbox's recording instant, when its patient (mcas-1) gets tier-2 and albuterol.
SANDBOX_INSTANT = "2026-11-25T11:44:40Z"


def sandbox_body(patient: str | None = None) -> dict[str, Any]:
    """The Sandbox's hook body; ``patient`` renames its patient everywhere it appears."""
    body: dict[str, Any] = copy.deepcopy(load_recording("hook-request.json")["body"])
    if patient is not None:
        text = json.dumps(body).replace('"mcas-1"', json.dumps(patient)).replace(
            "Patient/mcas-1", f"Patient/{patient}"
        )
        body = json.loads(text)
    return body


def with_new_episode(body: dict[str, Any], day: str = "2026-11-20") -> dict[str, Any]:
    """The body with one more unexplained anaphylaxis episode (a new Condition)."""
    body = copy.deepcopy(body)
    bundle = body["prefetch"]["conditions"]
    episodes = [
        e["resource"] for e in bundle["entry"]
        if any(c.get("code", "").startswith("T78.2")
               for c in e["resource"].get("code", {}).get("coding", []))
    ]
    new = copy.deepcopy(episodes[0])
    new["id"] = "anaphylaxis-new-" + day
    new["onsetDateTime"] = day + "T09:00:00-05:00"
    new.pop("recordedDate", None)
    bundle["entry"].append({"fullUrl": "Condition/" + new["id"], "resource": new,
                            "search": {"mode": "match"}})
    bundle["total"] = len(bundle["entry"])
    return body


def topics(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return [c["source"]["topic"]["code"] for c in response.get_json()["cards"]]


def card_of(response: Any, topic: str) -> dict[str, Any]:
    return next(c for c in response.get_json()["cards"] if c["source"]["topic"]["code"] == topic)


def override(app: Flask, card_uuid: str, when: str = "2026-11-25T11:44:40.745Z",
             **extra: Any) -> Any:
    """The Sandbox's dismissal (overridden, no reason), pointed at ``card_uuid``."""
    recorded = load_recording("feedback-request.json")["body"]["feedback"][0]
    item = {**recorded, "card": card_uuid, "outcomeTimestamp": when, **extra}
    response = app.test_client().post(FEEDBACK, json={"feedback": [item]})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def sample_value(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0
