"""The thresholds file: validated at start-up, errors name the file, the field, the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from service import create_app
from service.thresholds.files import load_thresholds
from service.thresholds.model import ThresholdsError
from tests.support.fhir_builders import default_threshold_values


def write(tmp_path: Path, values: Any) -> Path:
    path = tmp_path / "thresholds.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def error_for(tmp_path: Path, **changes: Any) -> str:
    values = default_threshold_values()
    values.update(changes)
    with pytest.raises(ThresholdsError) as info:
        load_thresholds(write(tmp_path, values))
    return str(info.value)


def test_defaults_load_with_every_rules_md_value() -> None:
    from service.knowledge.loader import bundled_cards_dir
    t = load_thresholds(bundled_cards_dir() / "thresholds.yaml")
    assert (t.lookback_days, t.episode_merge_hours, t.episode_followup_days) == (180, 24, 14)
    assert (t.count_triggered_anaphylaxis, t.count_respiratory_with_airway_disease) == (
        False, False)
    assert t.course_gap_days == 90
    assert dict(t.min_trial_days) == {1: 28, 2: 56, 3: 90, 4: 90}
    assert dict(t.response_onset_days) == {1: 7, 2: 14, 3: 28, 4: 28}
    assert t.recent_event_days == 90
    assert (t.min_anaphylaxis_episodes, t.min_respiratory_events) == (2, 3)
    assert t.omalizumab_dose_mg_per_4_weeks == 300
    assert dict(t.mediator_thresholds) == {
        "n_methylhistamine": 200, "leukotriene_e4": 104, "dinor_11b_pgf2a": 1802,
        "histamine_plasma": 8}
    assert (t.tryptase_acute_window_hours, t.tryptase_baseline_gap_hours) == (4, 24)
    assert t.tryptase_sm_flag == 20
    assert t.steroid_max_days == 14 and t.biologic_review_window_days == (90, 180)
    assert all(t.cards_enabled.values()) and len(t.cards_enabled) == 20  # 14 + 6 order-time
    assert t.order_dedupe_minutes == 60
    assert t.version.startswith("sha256:") and len(t.version) == len("sha256:") + 12


def test_version_follows_the_content(tmp_path: Path) -> None:
    values = default_threshold_values()
    first = load_thresholds(write(tmp_path, values)).version
    assert load_thresholds(write(tmp_path, values)).version == first
    values["lookback_days"] = 181
    assert load_thresholds(write(tmp_path, values)).version != first


@pytest.mark.parametrize("changes,field,problem", [
    ({"lookback_days": "180"}, "lookback_days", "whole number"),
    ({"lookback_days": 0}, "lookback_days",
     "must be between 30 and 730 (clinical range of the rules)"),
    ({"lookback_days": True}, "lookback_days", "whole number"),
    ({"episode_merge_hours": -1}, "episode_merge_hours", "must be between 1 and 72"),
    ({"tryptase_factor": 1.2}, "tryptase_factor", "removed in rules v2"),
    ({"tryptase_addend": 2}, "tryptase_addend", "removed in rules v2"),
    ({"min_trial_days": {"tier1": 28, "tier2": 56, "tier3": 90}}, "min_trial_days.tier4",
     "Missing data"),
    ({"min_trial_days": {"tier1": 28, "tier2": 56, "tier3": 90, "tier4": 90, "tier5": 1}},
     "min_trial_days.tier5", "Unknown field"),
    ({"mediator_thresholds": {"n_methylhistamine": 200, "leukotriene_e4": -4,
                              "dinor_11b_pgf2a": 1802, "histamine_plasma": 8}},
     "mediator_thresholds.leukotriene_e4", "must be between 104 and 250"),
    ({"biologic_review_window_days": [180, 90]}, "biologic_review_window_days", "low bound"),
    ({"biologic_review_window_days": [90]}, "biologic_review_window_days", "Length"),
    ({"lookback_dayz": 180}, "lookback_dayz", "Unknown field"),
])
def test_bad_values_name_the_field_and_the_problem(
    tmp_path: Path, changes: dict, field: str, problem: str
) -> None:
    message = error_for(tmp_path, **changes)
    assert str(tmp_path / "thresholds.yaml") in message
    assert f"field '{field}'" in message
    assert problem.lower() in message.lower()


def test_a_card_switch_must_be_a_boolean_and_every_topic_listed(tmp_path: Path) -> None:
    enabled = default_threshold_values()["cards_enabled"]
    assert "field 'cards_enabled.albuterol'" in error_for(
        tmp_path, cards_enabled={**enabled, "albuterol": "no"})
    del enabled["tier-4"]
    assert "field 'cards_enabled.tier-4'" in error_for(tmp_path, cards_enabled=enabled)


def test_missing_file_bad_yaml_and_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(ThresholdsError, match="cannot be read"):
        load_thresholds(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("lookback_days: [1,\n", encoding="utf-8")
    with pytest.raises(ThresholdsError, match="not valid YAML"):
        load_thresholds(broken)
    with pytest.raises(ThresholdsError, match="mapping"):
        load_thresholds(write(tmp_path, [1, 2]))


def test_a_bad_file_stops_start_up(tmp_path: Path) -> None:
    path = write(tmp_path, {**default_threshold_values(), "steroid_max_days": -3})
    with pytest.raises(ThresholdsError, match="steroid_max_days"):
        create_app({"TESTING": True, "THRESHOLDS_FILE": str(path)})


def test_environment_variable_points_at_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, {**default_threshold_values(), "lookback_days": 90})
    monkeypatch.setenv("MCAS_THRESHOLDS_FILE", str(path))
    app = create_app({"TESTING": True})
    assert app.extensions["mcas"].thresholds().lookback_days == 90
