"""Clinical ranges of the thresholds (rules v2, "plausible thresholds"): refused outside, with
a message naming the range; read from cards/thresholds_meta.yaml, checked at start-up."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from service import create_app
from service.config_files import bundled_cards_dir
from service.thresholds.fields import field_infos, leaves, validation_errors
from service.thresholds.files import load_ranges, load_thresholds
from service.thresholds.model import REMOVED_FIELDS, ThresholdsError
from service.thresholds.schema import thresholds_from_mapping

RANGES = load_ranges()
MESSAGE = "Must be between {low:g} and {high:g} (clinical range of the rules)."

# Every bracketed range of the clinical rules v2: (default, low, high). The oracle for
# cards/thresholds_meta.yaml as shipped.
RULES_MD: dict[str, tuple[float, float, float]] = {
    "lookback_days": (180, 30, 730),
    "episode_merge_hours": (24, 1, 72),
    "episode_followup_days": (14, 0, 60),
    "course_gap_days": (90, 30, 180),
    "min_trial_days.tier1": (28, 14, 180),
    "min_trial_days.tier2": (56, 28, 180),
    "min_trial_days.tier3": (90, 84, 365),
    "min_trial_days.tier4": (90, 84, 365),
    "response_onset_days.tier1": (7, 0, 90),
    "response_onset_days.tier2": (14, 0, 90),
    "response_onset_days.tier3": (28, 0, 90),
    "response_onset_days.tier4": (28, 0, 90),
    "recent_event_days": (90, 30, 180),
    "min_anaphylaxis_episodes": (2, 2, 10),
    "min_respiratory_events": (3, 2, 20),
    "omalizumab_dose_mg_per_4_weeks": (300, 75, 600),
    "mediator_thresholds.n_methylhistamine": (200, 200, 400),
    "mediator_thresholds.leukotriene_e4": (104, 104, 250),
    "mediator_thresholds.dinor_11b_pgf2a": (1802, 1802, 5500),
    "mediator_thresholds.histamine_plasma": (8, 8, 15),
    "tryptase_acute_window_hours": (4, 1, 6),
    "tryptase_baseline_gap_hours": (24, 24, 72),
    "tryptase_sm_flag": (20, 15, 25),
    "steroid_max_days": (14, 3, 90),
    "biologic_review_window_days.0": (90, 60, 180),
    "order_dedupe_minutes": (60, 5, 240),
    # docs/clinical-rules.md §8: 30 days for info cards [0-180], 7 for warnings [0-30]
    **{
        f"snooze_days.{topic}": (30, 0, 180)
        for topic in ("tier-1", "tier-2", "confirm-before-biologic", "tier-3",
                      "omalizumab-dose", "tier-4", "specialist-referral", "albuterol",
                      "mediator-evidence", "biologic-review")
    },
    **{
        f"snooze_days.{topic}": (7, 0, 30)
        for topic in ("epinephrine-autoinjector", "aspirin-caution", "steroid-long-term",
                      "ranitidine-switch", "order-trigger-drug")
    },
}
NO_RANGE = ("count_triggered_anaphylaxis", "count_respiratory_with_airway_disease")


def defaults() -> dict[str, Any]:
    return yaml.safe_load((bundled_cards_dir() / "thresholds.yaml").read_text(encoding="utf-8"))


def with_leaf(path: str, value: Any) -> dict[str, Any]:
    values = copy.deepcopy(defaults())
    node: Any = values
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[part]
    last = parts[-1]
    node[int(last) if isinstance(node, list) else last] = value
    return values


def problem(values: dict[str, Any]) -> str:
    with pytest.raises(ThresholdsError) as info:
        thresholds_from_mapping(values, ranges=RANGES, origin="test")
    return str(info.value)


def test_the_shipped_defaults_and_ranges_are_those_of_rules_md() -> None:
    flat = leaves(defaults())
    for path, (default, low, high) in RULES_MD.items():
        assert flat[path] == default, path
        assert (RANGES[path].minimum, RANGES[path].maximum) == (low, high), path
    end = RANGES["biologic_review_window_days.1"]
    assert (end.after, end.after_by, end.maximum) == ("biologic_review_window_days.0", 30, 365)
    ranged = {p for p, r in RANGES.items() if r.has_range}
    assert ranged == set(RULES_MD) | {"biologic_review_window_days.1"}


@pytest.mark.parametrize("path", sorted(RULES_MD))
def test_each_range_is_refused_outside_with_its_message(path: str) -> None:
    _, low, high = RULES_MD[path]
    step = 1  # every bound is a whole number; a fraction is refused by int fields anyway
    expected = MESSAGE.format(low=low, high=high)
    for outside in (low - step, high + step):
        message = problem(with_leaf(path, outside))
        assert f"field '{path}': {expected}" in message, message
    for inside in (low, high):  # bounds are inclusive
        values = with_leaf(path, inside)
        if path == "biologic_review_window_days.0":
            values["biologic_review_window_days"][1] = 365  # the end stays 30 days after
        thresholds_from_mapping(values, ranges=RANGES)


def test_a_number_just_outside_a_fractional_field_is_refused() -> None:
    message = problem(with_leaf("tryptase_acute_window_hours", 6.5))
    assert "Must be between 1 and 6 (clinical range of the rules)." in message
    message = problem(with_leaf("tryptase_sm_flag", 14.9))
    assert "Must be between 15 and 25" in message


def test_the_review_window_end_is_at_least_30_days_after_its_start() -> None:
    message = problem(with_leaf("biologic_review_window_days", [90, 119]))
    assert (
        "field 'biologic_review_window_days.1': Must be between 120 and 365 (clinical range "
        "of the rules: biologic_review_window_days.0 + 30 (at least 90) to 365)."
    ) in message
    message = problem(with_leaf("biologic_review_window_days", [150, 400]))
    assert "field 'biologic_review_window_days.1': Must be between 180 and 365" in message
    message = problem(with_leaf("biologic_review_window_days", [400, 365]))
    assert "field 'biologic_review_window_days.0': Must be between 60 and 180" in message
    assert "field 'biologic_review_window_days.1'" not in message  # the start is at fault
    message = problem(with_leaf("biologic_review_window_days", [59, 120]))
    assert "field 'biologic_review_window_days.0': Must be between 60 and 180" in message
    for window in ([90, 120], [180, 210], [60, 365]):
        thresholds_from_mapping(with_leaf("biologic_review_window_days", window), ranges=RANGES)


def test_a_wrong_type_gets_the_type_message_not_the_range() -> None:
    message = problem(with_leaf("lookback_days", "180"))
    assert "field 'lookback_days': Must be a whole number." in message
    assert "clinical range" not in message
    message = problem(with_leaf("mediator_thresholds.histamine_plasma", None))
    assert "field 'mediator_thresholds.histamine_plasma': Field may not be null." in message


@pytest.mark.parametrize("path", NO_RANGE)
def test_a_switch_without_a_range_keeps_its_type_check(path: str) -> None:
    assert not RANGES[path].has_range
    assert RANGES[path].describe() == "no clinical range set"
    message = problem(with_leaf(path, "yes"))
    assert f"field '{path}': Must be true or false." in message
    thresholds_from_mapping(with_leaf(path, True), ranges=RANGES)


def test_the_field_list_says_each_range_in_words() -> None:
    infos = {info.path: info.describe() for info in field_infos(bundled_cards_dir())}
    assert infos["lookback_days"]["range"] == "30 to 730"
    assert (infos["lookback_days"]["min"], infos["lookback_days"]["max"]) == (30, 730)
    assert infos["count_triggered_anaphylaxis"]["range"] == "no clinical range set"
    assert infos["cards_enabled.tier-1"]["range"] == "no clinical range set"
    assert infos["biologic_review_window_days.1"]["range"] == (
        "biologic_review_window_days.0 + 30 (at least 90) to 365")


@pytest.mark.parametrize("path", sorted(REMOVED_FIELDS))
def test_a_removed_setting_in_a_thresholds_file_is_refused_as_unknown(
    tmp_path: Path, path: str
) -> None:
    old_value = {"tryptase_factor": 1.2, "tryptase_addend": 2}.get(path)
    values = defaults()
    if path.startswith("mediator_thresholds."):
        values["mediator_thresholds"]["prostaglandin_d2"] = None
    else:
        values[path] = old_value
    file = tmp_path / "thresholds.yaml"
    file.write_text(yaml.safe_dump(values), encoding="utf-8")
    with pytest.raises(ThresholdsError) as info:
        load_thresholds(file)
    message = str(info.value)
    assert f"field '{path}': Unknown field: removed in rules v2" in message
    errors = validation_errors(values, RANGES)
    assert errors == [{"field": path, "message": f"Unknown field: {REMOVED_FIELDS[path]}."}]


def copy_cards(tmp_path: Path) -> Path:
    cards = tmp_path / "cards"
    shutil.copytree(bundled_cards_dir(), cards)
    return cards


def edit_meta(cards: Path, path: str, **changes: Any) -> None:
    meta_file = cards / "thresholds_meta.yaml"
    meta = yaml.safe_load(meta_file.read_text(encoding="utf-8"))
    meta[path].update(changes)
    for key in [k for k, v in changes.items() if v is ...]:
        del meta[path][key]
    meta_file.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")


def test_the_ranges_have_one_source_the_metadata_a_clinician_edits(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit_meta(cards, "lookback_days", max=365)
    app = create_app({"TESTING": True, "CARDS_DIR": str(cards), "DATA_DIR": str(tmp_path)})
    ranges = app.extensions["mcas"].thresholds.ranges
    assert ranges["lookback_days"].maximum == 365
    errors = validation_errors(with_leaf("lookback_days", 400), ranges)
    assert errors == [{"field": "lookback_days",
                       "message": "Must be between 30 and 365 (clinical range of the rules)."}]


@pytest.mark.parametrize(("path", "changes", "problem_text"), [
    ("lookback_days", {"min": ...}, "lookback_days: needs 'min'"),
    ("lookback_days", {"max": "lots"}, "lookback_days: 'max' must be a number or null"),
    ("lookback_days", {"min": 800}, "lookback_days: 'min' is above 'max'"),
    ("count_triggered_anaphylaxis", {"min": 0}, "an on/off switch has no range"),
    ("biologic_review_window_days.1", {"min_after": {"field": "nope", "days": 30}},
     "'min_after' needs a numeric 'field'"),
])
def test_a_bad_metadata_file_stops_start_up(
    tmp_path: Path, path: str, changes: dict[str, Any], problem_text: str
) -> None:
    cards = copy_cards(tmp_path)
    edit_meta(cards, path, **changes)
    with pytest.raises(ThresholdsError) as info:
        create_app({"TESTING": True, "CARDS_DIR": str(cards), "DATA_DIR": str(tmp_path)})
    assert "thresholds_meta.yaml" in str(info.value) and problem_text in str(info.value)


def test_a_file_default_outside_a_narrowed_range_stops_start_up(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    edit_meta(cards, "steroid_max_days", min=21)
    with pytest.raises(ThresholdsError) as info:
        create_app({"TESTING": True, "CARDS_DIR": str(cards), "DATA_DIR": str(tmp_path)})
    assert "field 'steroid_max_days': Must be between 21 and 90" in str(info.value)


def test_a_metadata_entry_for_a_removed_setting_stops_start_up(tmp_path: Path) -> None:
    cards = copy_cards(tmp_path)
    meta_file = cards / "thresholds_meta.yaml"
    meta = yaml.safe_load(meta_file.read_text(encoding="utf-8"))
    meta["tryptase_factor"] = {"label": "Tryptase factor", "unit": "x", "meaning": "old"}
    meta_file.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    with pytest.raises(ThresholdsError, match="tryptase_factor: removed in rules v2"):
        create_app({"TESTING": True, "CARDS_DIR": str(cards), "DATA_DIR": str(tmp_path)})
