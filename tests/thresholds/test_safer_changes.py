"""Safer threshold changes, enforced by the API (issue 16): ranges, warning cards switched
off only with a confirmation recorded in the version, rollbacks previewed first."""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask

from tests.support.thresholds_admin import apply, default_values, get, post, rollback, with_tier1

WARNING_CARD = "epinephrine-autoinjector"


def _switched_off(topic: str = WARNING_CARD) -> dict[str, Any]:
    values = copy.deepcopy(default_values())
    values["cards_enabled"][topic] = False
    return values


def _fields(response: Any) -> list[str]:
    return [e for issue in response.get_json()["issue"] for e in issue.get("expression", [])]


def test_values_outside_the_clinical_range_are_refused_naming_the_field(
    storage_app: Flask,
) -> None:
    values = copy.deepcopy(default_values())
    values["lookback_days"] = 36_500
    values["min_trial_days"]["tier2"] = 100_000
    response = post(storage_app, "/validate", {"values": values})
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert set(errors) == {"lookback_days", "min_trial_days.tier2"}
    assert "between 30 and 730" in errors["lookback_days"]
    refused = apply(storage_app, values, get(storage_app)["version"])
    assert refused.status_code == 400
    assert set(_fields(refused)) == {"lookback_days", "min_trial_days.tier2"}


def test_switching_off_a_warning_card_needs_a_confirmation_recorded_in_the_version(
    storage_app: Flask,
) -> None:
    base = get(storage_app)["version"]
    checked = post(storage_app, "/validate", {"values": _switched_off()}).get_json()
    assert [n["topic"] for n in checked["needs_confirmation"]] == [WARNING_CARD]
    refused = apply(storage_app, _switched_off(), base)
    assert refused.status_code == 400
    assert _fields(refused) == [f"cards_enabled.{WARNING_CARD}"]
    assert "confirm" in refused.get_json()["issue"][0]["diagnostics"]
    assert get(storage_app)["version"] == base  # nothing applied
    made = apply(storage_app, _switched_off(), base, confirm_switch_off=[WARNING_CARD])
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["changes"] == [
        {"field": f"cards_enabled.{WARNING_CARD}", "old": True, "new": False,
         "confirmed": True}
    ]
    history = get(storage_app, "/history")["versions"]
    assert history[0]["changes"][0]["confirmed"] is True


def test_switching_off_an_info_card_needs_no_confirmation(storage_app: Flask) -> None:
    made = apply(storage_app, _switched_off("biologic-review"), get(storage_app)["version"])
    assert made.status_code == 201, made.get_json()
    assert "confirmed" not in made.get_json()["changes"][0]


def test_a_rollback_must_be_previewed_and_the_preview_shows_what_it_changes(
    storage_app: Flask,
) -> None:
    applied = apply(storage_app, with_tier1(180), get(storage_app)["version"]).get_json()
    unpreviewed = post(storage_app, "/rollback", {
        "to_version": 1, "base_version": applied["version"], "author": "Dr B",
        "reason": "back"})
    assert unpreviewed.status_code == 400
    assert _fields(unpreviewed) == ["previewed_version"]
    wrong = rollback(storage_app, 1, applied["version"], previewed_version="sha256:000000000000")
    assert wrong.status_code == 400 and _fields(wrong) == ["previewed_version"]
    previewed = post(storage_app, "/rollback/preview", {"to_version": 1})
    assert previewed.status_code == 200
    body = previewed.get_json()
    assert body["changes"] == [{"field": "min_trial_days.tier1", "old": 180, "new": 28}]
    assert body["scenarios_run"] > 100 and body["cards_appearing"] > 0
    assert get(storage_app)["version"] == applied["version"]  # a preview changes nothing
    done = rollback(storage_app, 1, applied["version"])
    assert done.status_code == 201, done.get_json()
    assert post(storage_app, "/rollback/preview", {"to_version": 99}).status_code == 404


def test_a_rollback_that_switches_off_a_warning_card_needs_the_confirmation(
    storage_app: Flask,
) -> None:
    base = get(storage_app)["version"]
    off = apply(storage_app, _switched_off(), base, confirm_switch_off=[WARNING_CARD])
    back_on = apply(storage_app, default_values(), off.get_json()["version"]).get_json()
    # version 2 had the card off: rolling back to it switches it off again
    refused = rollback(storage_app, 2, back_on["version"])
    assert refused.status_code == 400
    assert _fields(refused) == [f"cards_enabled.{WARNING_CARD}"]
    done = rollback(storage_app, 2, back_on["version"], confirm_switch_off=[WARNING_CARD])
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["changes"][0]["confirmed"] is True
