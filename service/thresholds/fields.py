"""The fields of the thresholds as data: leaf paths, meaning and unit, diffs, errors.

Administrators see and change thresholds one leaf at a time (``min_trial_days.tier1``,
``biologic_review_window_days.0``); the page, the API's field list, the per-field diff of
a version and validation errors all use these dotted paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from service.thresholds.model import Thresholds
from service.thresholds.schema import ThresholdsSchema, schema_problems

META_FILE = "thresholds_meta.yaml"


@dataclass(frozen=True)
class FieldInfo:
    path: str
    label: str
    unit: str
    meaning: str
    # "int", "number", "optional-number" (empty = no threshold) or "bool"
    kind: str


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
        "cards_enabled": dict(thresholds.cards_enabled),
    }


def _by_tier(values: Mapping[int, int]) -> dict[str, int]:
    return {f"tier{k}": v for k, v in sorted(values.items())}


def leaves(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"min_trial_days.tier1": 28, "biologic_review_window_days.0": 90, ...}``"""
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(leaves(value, path + "."))
        elif isinstance(value, list):
            out.update(leaves({str(i): item for i, item in enumerate(value)}, path + "."))
        else:
            out[path] = value
    return out


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


def _schema_kinds() -> dict[str, str]:
    schema = ThresholdsSchema()
    kinds: dict[str, str] = {}
    for name, field in schema.fields.items():
        nested = getattr(field, "nested", None)
        if nested is not None:
            for sub_name, sub_field in nested().fields.items():
                kinds[f"{name}.{sub_name}"] = _kind(sub_field)
        elif type(field).__name__ == "List":
            kinds[f"{name}.0"] = kinds[f"{name}.1"] = "int"
        else:
            kinds[name] = _kind(field)
    return kinds


def _kind(field: Any) -> str:
    name = type(field).__name__
    if name == "_Bool":
        return "bool"
    if name == "_Int":
        return "int"
    return "optional-number" if field.allow_none else "number"


_LEAF_ORDER: list[str] = list(_schema_kinds())


def field_infos(cards_dir: Path) -> list[FieldInfo]:
    """Every leaf with its meaning and unit, in the order of thresholds.yaml."""
    raw = yaml.safe_load((cards_dir / META_FILE).read_text(encoding="utf-8")) or {}
    kinds = _schema_kinds()
    missing = [path for path in kinds if path not in raw]
    if missing:
        raise ValueError(f"{META_FILE}: no meaning/unit for {', '.join(missing)}")
    return [
        FieldInfo(
            path=path,
            label=str(raw[path]["label"]),
            unit=str(raw[path]["unit"]),
            meaning=str(raw[path]["meaning"]),
            kind=kind,
        )
        for path, kind in kinds.items()
    ]


def validation_errors(values: Any) -> list[dict[str, str]]:
    """Each problem of a proposal as ``{field, message}``; empty when it is valid.

    The message is marshmallow's, which states the rule broken ("Must be greater than
    or equal to 1.", "Unknown field.", "Missing data for required field.").
    """
    if not isinstance(values, Mapping):
        return [{"field": "values", "message": "Must be a mapping of threshold names."}]
    _, problems = schema_problems(values)
    found = [{"field": path or "values", "message": text} for path, text in problems]
    return sorted(found, key=lambda e: (_field_order(e["field"]), e["field"]))
