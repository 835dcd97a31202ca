"""Unusual values inside the range are accepted with a warning (rules v2, "plausible thresholds"):
below warn_below (half the default), above warn_above (twice it), or 0 where the default
is not 0; per field in the validate and preview answers, and next to the field on /admin."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service import create_app
from service.config_files import bundled_cards_dir
from service.thresholds.fields import warnings
from service.thresholds.files import load_ranges, load_thresholds
from tests.support.storage_fixtures import ADMIN_TOKEN, NOW, SALT
from tests.support.thresholds_admin import ADMIN, API, default_values

RANGES = load_ranges()
FILE = load_thresholds(bundled_cards_dir() / "thresholds.yaml")


@pytest.fixture
def admin_app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True, "DATA_DIR": str(tmp_path), "PATIENT_HASH_SALT": SALT,
        "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW,
    })
    yield app
    app.extensions["mcas_storage"].dispose()


def changed(**leaves: Any) -> dict[str, Any]:
    values = copy.deepcopy(default_values())
    for path, value in leaves.items():
        node = values
        parts = path.split("__")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    return values


def test_the_defaults_raise_no_warning() -> None:
    assert warnings(default_values(), RANGES, FILE) == []


@pytest.mark.parametrize(("leaf", "value", "text"), [
    # below half the default
    ("lookback_days", 89,
     "89 is accepted but unusually low (warning below 90; the default is 180)."),
    ("omalizumab_dose_mg_per_4_weeks", 149, "unusually low (warning below 150"),
    ("min_trial_days__tier2", 27.0 + 1, None),  # 28 = half of 56: not below it
    # above twice the default
    ("lookback_days", 361,
     "361 is accepted but unusually high (warning above 360; the default is 180)."),
    ("steroid_max_days", 29, "unusually high (warning above 28"),
    ("mediator_thresholds__histamine_plasma", 15, None),  # the range ends before twice 8
    # 0 where the default is not 0
    ("episode_followup_days", 0, "0 is accepted but unusual: the default is 14."),
    ("response_onset_days__tier1", 0, "0 is accepted but unusual: the default is 7."),
    # at the bounds themselves: no warning
    ("episode_followup_days", 7, None),
    ("episode_followup_days", 28, None),
])
def test_a_value_past_a_warn_bound_is_flagged(leaf: str, value: Any, text: str | None) -> None:
    found = warnings(changed(**{leaf: value}), RANGES, FILE)
    path = leaf.replace("__", ".")
    if text is None:
        assert found == []
    else:
        [warning] = found
        assert warning["field"] == path and text in warning["message"]


def test_validate_and_preview_list_warnings_per_field(admin_app: Flask) -> None:
    client = admin_app.test_client()
    values = changed(lookback_days=400, episode_followup_days=0)
    body = client.post(f"{API}/validate", json={"values": values}, headers=ADMIN).get_json()
    assert body["valid"] is True and body["errors"] == []
    assert [w["field"] for w in body["warnings"]] == ["lookback_days", "episode_followup_days"]
    preview = client.post(f"{API}/preview", json={"values": values}, headers=ADMIN)
    assert preview.status_code == 200
    assert preview.get_json()["warnings"] == body["warnings"]
    # Warnings never refuse: the change applies, and its answer repeats them.
    applied = client.post(f"{API}/apply", headers=ADMIN, json={
        "values": values, "base_version": client.get(API, headers=ADMIN).get_json()["version"],
        "author": "Dr A", "reason": "test"})
    assert applied.status_code == 201
    assert applied.get_json()["warnings"] == body["warnings"]
    assert client.get(API, headers=ADMIN).get_json()["warnings"] == body["warnings"]


def test_an_invalid_proposal_has_errors_and_no_warnings(admin_app: Flask) -> None:
    body = admin_app.test_client().post(
        f"{API}/validate", json={"values": changed(lookback_days=10)}, headers=ADMIN
    ).get_json()
    assert body["valid"] is False and body["warnings"] == []


def test_the_page_has_a_warning_slot_next_to_each_field(admin_app: Flask) -> None:
    page = admin_app.test_client().get("/admin").get_data(as_text=True)
    assert 'id="x-lookback_days"' in page and 'class="warning"' in page
    assert "30 to 730" in page  # the range in words, next to the meaning
    script = admin_app.test_client().get("/admin/static/admin.js").get_data(as_text=True)
    assert "showWarnings" in script
