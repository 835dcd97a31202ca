"""The fields of the thresholds as data: leaf paths, meaning and unit, diffs, errors.

Administrators see and change thresholds one leaf at a time (``min_trial_days.tier1``,
``biologic_review_window_days.0``); the page, the API's field list, the per-field diff of
a version, validation errors and warnings all use these dotted paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.config_files import read_yaml

# leaves: imported from here by the administration and the tests.
from service.thresholds.model import FieldRange, Thresholds, ThresholdsError, range_warnings
from service.thresholds.model import leaves as leaves
from service.thresholds.schema import leaf_kinds, ranges_from_meta, schema_problems

META_FILE = "thresholds_meta.yaml"


@dataclass(frozen=True)
class FieldInfo:
    path: str
    label: str
    unit: str
    meaning: str
    # "int", "number", "optional-number" (empty = no threshold) or "bool"
    kind: str
    # The clinical range and warn bounds (cards/thresholds_meta.yaml); "range" in words,
    # "no clinical range set" when there is none.
    range: FieldRange = field(default_factory=FieldRange)

    def describe(self) -> dict[str, Any]:
        """The field as the API lists it (without its value)."""
        return {
            "field": self.path,
            "label": self.label,
            "unit": self.unit,
            "meaning": self.meaning,
            "kind": self.kind,
            "range": self.range.describe(),
            "min": self.range.minimum,
            "max": self.range.maximum,
            "warn_below": self.range.warn_below,
            "warn_above": self.range.warn_above,
        }


def thresholds_to_mapping(thresholds: Thresholds) -> dict[str, Any]:
    """The values in the shape of thresholds.yaml (what the schema loads)."""
    return {
        "lookback_days": thresholds.lookback_days,
        "episode_merge_hours": thresholds.episode_merge_hours,
        "episode_followup_days": thresholds.episode_followup_days,
        "count_triggered_anaphylaxis": thresholds.count_triggered_anaphylaxis,
        "count_respiratory_with_airway_disease": thresholds.count_respiratory_with_airway_disease,
        "course_gap_days": thresholds.course_gap_days,
        "min_trial_days": _by_tier(thresholds.min_trial_days),
        "response_onset_days": _by_tier(thresholds.response_onset_days),
        "recent_event_days": thresholds.recent_event_days,
        "min_anaphylaxis_episodes": thresholds.min_anaphylaxis_episodes,
        "min_respiratory_events": thresholds.min_respiratory_events,
        "omalizumab_dose_mg_per_4_weeks": thresholds.omalizumab_dose_mg_per_4_weeks,
        "mediator_thresholds": dict(thresholds.mediator_thresholds),
        "tryptase_acute_window_hours": thresholds.tryptase_acute_window_hours,
        "tryptase_baseline_gap_hours": thresholds.tryptase_baseline_gap_hours,
        "tryptase_sm_flag": thresholds.tryptase_sm_flag,
        "steroid_max_days": thresholds.steroid_max_days,
        "biologic_review_window_days": list(thresholds.biologic_review_window_days),
        "order_dedupe_minutes": thresholds.order_dedupe_minutes,
        "cards_enabled": dict(thresholds.cards_enabled),
        "snooze_days": dict(thresholds.snooze_days),
    }


def _by_tier(values: Mapping[int, int]) -> dict[str, int]:
    return {f"tier{k}": v for k, v in sorted(values.items())}


def diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One ``{field, old, new}`` per leaf that differs (every leaf when there is no old)."""
    before = leaves(old) if old is not None else {}
    after = leaves(new)
    changes = []
    for path in sorted(set(before) | set(after), key=_field_order):
        if path not in before or path not in after or before[path] != after[path]:
            changes.append({"field": path, "old": before.get(path), "new": after.get(path)})
    return changes


def _field_order(path: str) -> int:
    order = _LEAF_ORDER
    return order.index(path) if path in order else len(order)


_LEAF_ORDER: list[str] = list(leaf_kinds())


def field_infos(cards_dir: Path) -> list[FieldInfo]:
    """Every leaf with its meaning, unit and range, in the order of thresholds.yaml."""
    path = cards_dir / META_FILE
    origin = f"thresholds metadata {path}"
    raw = read_yaml(path, origin, ThresholdsError)
    ranges = ranges_from_meta(raw, origin=origin)
    kinds = leaf_kinds()
    missing = [p for p in kinds if not {"label", "unit", "meaning"} <= set(raw.get(p) or ())]
    if missing:
        raise ThresholdsError(f"{path}: no label/meaning/unit for {', '.join(missing)}")
    return [
        FieldInfo(
            path=p,
            label=str(raw[p]["label"]),
            unit=str(raw[p]["unit"]),
            meaning=str(raw[p]["meaning"]),
            kind=kind,
            range=ranges[p],
        )
        for p, kind in kinds.items()
    ]


def validation_errors(values: Any, ranges: Mapping[str, FieldRange]) -> list[dict[str, str]]:
    """Each problem of a proposal as ``{field, message}``; empty when it is valid.

    The message states the rule broken: marshmallow's for types ("Must be a whole
    number.", "Unknown field.", "Missing data for required field.") and the clinical
    range for numbers outside it ("Must be between 30 and 730 (clinical range of the
    rules).").
    """
    if not isinstance(values, Mapping):
        return [{"field": "values", "message": "Must be a mapping of threshold names."}]
    _, problems = schema_problems(values, ranges)
    found = [{"field": path or "values", "message": text} for path, text in problems]
    return sorted(found, key=lambda e: (_field_order(e["field"]), e["field"]))


def warnings(
    values: Mapping[str, Any], ranges: Mapping[str, FieldRange], defaults: Thresholds
) -> list[dict[str, str]]:
    """``{field, message}`` per unusual value of a valid proposal (6.14), in field order.

    ``defaults``: the thresholds file in force (0 is flagged where its value is not 0).
    """
    found = range_warnings(values, ranges, thresholds_to_mapping(defaults))
    return sorted(found, key=lambda e: _field_order(e["field"]))
