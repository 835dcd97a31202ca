"""Helpers for the thresholds administration tests: API calls and fixture hooks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from flask import Flask

from service.scenarios.fixtures import FIXTURES_DIR, load_fixture, request_for
from service.thresholds.fields import thresholds_to_mapping
from service.thresholds.files import load_thresholds
from tests.support.storage_fixtures import ADMIN_TOKEN, NOW

API = "/admin/api/thresholds"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VERSION_KEY = "org.mcas-cds.thresholds-version"
# Refractory on tier 1 after 28 days: a tier-2 card (and a steroid card); with a
# 180-day minimum trial it is not refractory yet, the steroid card stays.
TIER2_FIXTURE = "tier-2--fires--steroid-does-not-raise-tier"
BUNDLED = Path(__file__).resolve().parents[2] / "cards" / "thresholds.yaml"


def default_values() -> dict[str, Any]:
    return thresholds_to_mapping(load_thresholds(BUNDLED))


def with_tier1(days: int) -> dict[str, Any]:
    values = copy.deepcopy(default_values())
    values["min_trial_days"]["tier1"] = days
    return values


def get(app: Flask, path: str = "") -> Any:
    response = app.test_client().get(API + path, headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def post(app: Flask, path: str, body: dict[str, Any]) -> Any:
    return app.test_client().post(API + path, json=body, headers=ADMIN)


def apply(app: Flask, values: dict[str, Any], base: str, **extra: Any) -> Any:
    body = {"values": values, "base_version": base, "author": "Dr A. Admin",
            "reason": "Committee decision 2026-11", **extra}
    return post(app, "/apply", body)


def fire(app: Flask, fixture: str = TIER2_FIXTURE) -> list[dict[str, Any]]:
    loaded = load_fixture(FIXTURES_DIR / f"{fixture}.json")
    response = app.test_client().post(
        "/cds-services/mcas-therapy-tier", json=request_for(loaded, NOW)
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["cards"]


def card_versions(cards: list[dict[str, Any]]) -> set[str]:
    return {card["extension"][VERSION_KEY] for card in cards}


def topics(cards: list[dict[str, Any]]) -> set[str]:
    return {card["source"]["topic"]["code"] for card in cards}


def rollback(app: Flask, to_version: int, base: str, **extra: Any) -> Any:
    """Preview the rollback, then send it with the previewed version (as the page does)."""
    previewed = post(app, "/rollback/preview", {"to_version": to_version})
    body = {"to_version": to_version, "base_version": base, "author": "Dr B",
            "reason": "Too many tier-2 cards lost", **extra}
    if previewed.status_code == 200:
        body.setdefault("previewed_version", previewed.get_json()["proposed_version"])
    return post(app, "/rollback", body)
