"""The upgrade rule for stored thresholds versions, on SQLite and PostgreSQL.

A stored version lacking a field takes the thresholds file's value; a stored field that is
no longer a setting is dropped; both are listed in the version's upgrade note (API,
history) and logged once per process, by name only. Stored rows are never rewritten.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import insert, select

from service import create_app
from service.config_files import bundled_cards_dir
from service.storage.models import thresholds_active, thresholds_versions
from service.thresholds.files import load_ranges
from service.thresholds.model import upgrade_values
from service.thresholds.schema import thresholds_from_mapping
from tests.support.storage_fixtures import NOW, engine_of
from tests.support.thresholds_admin import apply, card_versions, default_values, fire, get

OLD_HASH = "sha256:0123456789ab"
NEW_IN_V2 = {
    "episode_followup_days", "count_triggered_anaphylaxis",
    "count_respiratory_with_airway_disease", "course_gap_days", "response_onset_days",
    "recent_event_days", "omalizumab_dose_mg_per_4_weeks", "tryptase_baseline_gap_hours",
    "tryptase_sm_flag", "cards_enabled.confirm-before-biologic",
    "cards_enabled.omalizumab-dose", "cards_enabled.ranitidine-switch",
}
REMOVED_IN_V2 = {"tryptase_factor", "tryptase_addend", "mediator_thresholds.prostaglandin_d2"}


def v1_values(tier1: int = 35) -> dict[str, Any]:
    """A version as rules v1 stored it (an administrator had set tier 1 to ``tier1``)."""
    values = copy.deepcopy(default_values())
    for name in ("episode_followup_days", "count_triggered_anaphylaxis",
                 "count_respiratory_with_airway_disease", "course_gap_days",
                 "response_onset_days", "recent_event_days", "omalizumab_dose_mg_per_4_weeks",
                 "tryptase_baseline_gap_hours", "tryptase_sm_flag"):
        del values[name]
    for topic in ("confirm-before-biologic", "omalizumab-dose", "ranitidine-switch"):
        del values["cards_enabled"][topic]
    values["min_trial_days"]["tier1"] = tier1
    values["mediator_thresholds"]["prostaglandin_d2"] = None
    values["tryptase_acute_window_hours"] = 4
    values["tryptase_factor"] = 1.3  # an administrator's value of a removed setting
    values["tryptase_addend"] = 2
    return values


def store_v1_version(app: Flask, values: dict[str, Any]) -> int:
    """Write a version row and the active pointer as an earlier release did."""
    with engine_of(app).begin() as connection:
        number = connection.execute(insert(thresholds_versions).values(
            content_hash=OLD_HASH, values_json=json.dumps(values), changes_json="[]",
            author="Dr Old", reason="set under rules v1", created_at=NOW, parent_id=None,
            action="apply", rollback_of=None,
        )).inserted_primary_key[0]
        connection.execute(insert(thresholds_active).values(
            id=1, version_id=number, updated_at=NOW))
    return int(number)


# --- the function itself -------------------------------------------------------------

def test_missing_fields_take_the_default_and_removed_ones_are_dropped_at_any_depth() -> None:
    defaults = {"a": 1, "group": {"x": 1, "y": 2}, "new_group": {"k": True}, "window": [1, 2]}
    stored = {"a": 5, "group": {"x": 9, "gone": 3}, "old": 7, "window": [3, 4]}
    upgrade = upgrade_values(stored, defaults)
    assert upgrade.values == {
        "a": 5, "group": {"x": 9, "y": 2}, "new_group": {"k": True}, "window": [3, 4]}
    assert set(upgrade.added) == {"group.y", "new_group"}
    assert set(upgrade.dropped) == {"group.gone", "old"}
    note = upgrade.note()
    assert note is not None and "group.y" in note and "old (no longer a setting)" in note
    assert "9" not in note and "7" not in note  # names, never values


def test_a_current_version_needs_no_upgrade() -> None:
    upgrade = upgrade_values(default_values(), default_values())
    assert not upgrade.changed and upgrade.note() is None
    assert upgrade.values == default_values()


def test_a_v1_version_upgrades_to_valid_v2_values() -> None:
    upgrade = upgrade_values(v1_values(), default_values())
    assert set(upgrade.added) == NEW_IN_V2
    assert set(upgrade.dropped) == REMOVED_IN_V2
    note = upgrade.note()
    assert note is not None and "removed in rules v2" in note
    thresholds = thresholds_from_mapping(upgrade.values, ranges=load_ranges())
    assert thresholds.min_trial_days[1] == 35
    assert dict(thresholds.response_onset_days) == {1: 7, 2: 14, 3: 28, 4: 28}


# --- stored versions, on both databases ----------------------------------------------

def test_a_stored_v1_version_is_served_upgraded_and_its_note_shown(
    storage_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    number = store_v1_version(storage_app, v1_values())
    caplog.set_level(logging.WARNING, logger="service.thresholds.source")
    expected = thresholds_from_mapping(
        upgrade_values(v1_values(), default_values()).values, ranges=load_ranges()
    ).version
    # The hook path serves the upgraded values, stamped with their own hash.
    assert card_versions(fire(storage_app)) == {f"v{number}.{expected}"}
    assert card_versions(fire(storage_app)) == {f"v{number}.{expected}"}
    storage_app.extensions["mcas"].thresholds.refresh_now()

    active = get(storage_app)
    assert active["source"] == "database" and active["version"] == f"v{number}.{expected}"
    assert expected != OLD_HASH
    assert active["values"]["min_trial_days"]["tier1"] == 35  # the administrator's value
    assert active["values"]["response_onset_days"] == default_values()["response_onset_days"]
    assert "tryptase_factor" not in active["values"]
    upgrade = active["stored"]["upgrade"]
    assert set(upgrade["added"]) == NEW_IN_V2 and set(upgrade["dropped"]) == REMOVED_IN_V2
    assert "tryptase_factor" in upgrade["note"]

    [entry] = get(storage_app, "/history")["versions"]
    assert entry["upgrade"] == upgrade and entry["active"] is True
    detail = get(storage_app, f"/versions/{number}")
    assert detail["values"]["tryptase_factor"] == 1.3  # as stored, never rewritten
    assert detail["values_in_force"] == active["values"] and detail["problem"] is None

    # Logged once per process, names only.
    records = [r for r in caplog.records if r.name == "service.thresholds.source"]
    [record] = records
    text = record.getMessage()
    assert f"thresholds version {number}" in text and "tryptase_factor" in text
    assert "1.3" not in text and "35" not in text

    with engine_of(storage_app).connect() as connection:
        stored = connection.execute(
            select(thresholds_versions.c.values_json).where(thresholds_versions.c.id == number)
        ).scalar_one()
    assert json.loads(stored) == v1_values()


def test_a_change_on_top_of_an_upgraded_version_diffs_only_what_changed(
    storage_app: Flask,
) -> None:
    number = store_v1_version(storage_app, v1_values())
    base = get(storage_app)["version"]
    proposal = copy.deepcopy(get(storage_app)["values"])
    proposal["min_trial_days"]["tier1"] = 42
    response = apply(storage_app, proposal, base)
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert made["parent"] == number
    assert made["changes"] == [{"field": "min_trial_days.tier1", "old": 35, "new": 42}]
    active = get(storage_app)
    assert active["stored"]["number"] == made["number"] and active["stored"]["upgrade"] is None
    # Proposing exactly the values in force is no change.
    same = apply(storage_app, active["values"], active["version"])
    assert same.status_code == 400
    assert "nothing to apply" in same.get_json()["issue"][0]["diagnostics"]


def test_a_rollback_to_a_v1_version_applies_its_upgraded_values(storage_app: Flask) -> None:
    number = store_v1_version(storage_app, v1_values())
    first = get(storage_app)
    proposal = copy.deepcopy(first["values"])
    proposal["steroid_max_days"] = 21
    applied = apply(storage_app, proposal, first["version"]).get_json()
    response = storage_app.test_client().post(
        "/admin/api/thresholds/rollback",
        json={"to_version": number, "base_version": applied["version"], "author": "Dr A",
              "reason": "back"},
        headers={"Authorization": f"Bearer {storage_app.config['ADMIN_TOKEN']}"},
    )
    assert response.status_code == 201, response.get_json()
    assert get(storage_app)["values"] == first["values"]


def test_a_missing_field_takes_the_value_of_the_thresholds_file_in_force(
    storage_config: dict[str, Any], tmp_path: Path
) -> None:
    values = yaml.safe_load((bundled_cards_dir() / "thresholds.yaml").read_text())
    values["response_onset_days"]["tier1"] = 10
    values["count_triggered_anaphylaxis"] = True
    file = tmp_path / "site-thresholds.yaml"
    file.write_text(yaml.safe_dump(values), encoding="utf-8")
    app = create_app({**storage_config, "THRESHOLDS_FILE": str(file)})
    try:
        store_v1_version(app, v1_values())
        in_force = get(app)["values"]
        assert in_force["response_onset_days"]["tier1"] == 10
        assert in_force["count_triggered_anaphylaxis"] is True
        assert in_force["min_trial_days"]["tier1"] == 35
    finally:
        app.extensions["mcas_storage"].dispose()


def test_a_version_stored_before_snooze_days_loads_with_the_files_values(
    storage_app: Flask,
) -> None:
    """Issue 14 added snooze_days: a version stored by the release before still loads,
    taking the thresholds file's snooze_days, and says so."""
    values = copy.deepcopy(default_values())
    del values["snooze_days"]
    values["min_trial_days"]["tier1"] = 42
    upgrade = upgrade_values(values, default_values())
    assert upgrade.added == ("snooze_days",) and upgrade.dropped == ()
    assert upgrade.note() is not None and "snooze_days" in upgrade.note()  # type: ignore[operator]

    number = store_v1_version(storage_app, values)
    storage_app.extensions["mcas"].thresholds.refresh_now()
    active = get(storage_app)
    assert active["version"].startswith(f"v{number}.")
    assert active["values"]["min_trial_days"]["tier1"] == 42
    assert active["values"]["snooze_days"] == default_values()["snooze_days"]
    assert active["stored"]["upgrade"]["added"] == ["snooze_days"]
