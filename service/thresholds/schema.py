"""Validating thresholds: ``ThresholdsSchema`` and ``thresholds_from_mapping``.

A wrong type, a value out of range or an unknown key raises ``ThresholdsError`` naming the
origin, the field and the problem, so a bad file stops the service before it answers.
Stored versions (service/storage/thresholds_store.py) are validated by the same schema.
A setting rules v2 removed (``REMOVED_FIELDS``) is refused as unknown, saying so.

The clinical range of each field (docs/administration.md) is not written here: it is
read from ``cards/thresholds_meta.yaml`` (``ranges_from_meta``, checked at start-up) and
passed in, so clinicians change it in one place. A value outside it is refused with a
message naming the range; a field without a range keeps the type and sign checks below.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from service.cdshooks.validation_errors import error_pairs
from service.knowledge.topics import ALL_TOPICS, SNOOZE_TOPICS
from service.thresholds.model import (
    ANALYTES_WITH_THRESHOLD,
    REMOVED_FIELDS,
    FieldRange,
    Thresholds,
    ThresholdsError,
    canonical_version,
    is_number,
    leaves,
)

TIERS: tuple[str, ...] = ("tier1", "tier2", "tier3", "tier4")


class _Number(fields.Number[float]):
    """A JSON/YAML number: no strings, no booleans (YAML `yes` is not 1)."""

    num_type = float

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Must be a number.")
        return super()._deserialize(value, attr, data, **kwargs)


class _Int(fields.Integer):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be a whole number.")
        return super()._deserialize(value, attr, data, **kwargs)


class _Bool(fields.Boolean):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


def _days(*, minimum: int = 0) -> _Int:
    return _Int(required=True, validate=validate.Range(min=minimum))


def _number(*, minimum: float = 0) -> _Number:
    return _Number(required=True, validate=validate.Range(min=minimum))


def _strict(schema_fields: dict[str, fields.Field[Any]]) -> type[Schema]:
    attrs: dict[str, Any] = {"Meta": type("Meta", (), {"unknown": RAISE}), **schema_fields}
    return type("Nested", (Schema,), attrs)


_MinTrialSchema = _strict({tier: _days() for tier in TIERS})
_ResponseOnsetSchema = _strict({tier: _days() for tier in TIERS})
_MediatorSchema = _strict({name: _number() for name in ANALYTES_WITH_THRESHOLD})
_CardsEnabledSchema = _strict({topic: _Bool(required=True) for topic in ALL_TOPICS})
_SnoozeDaysSchema = _strict({topic: _days() for topic in SNOOZE_TOPICS})


class ThresholdsSchema(Schema):
    """The fields in the order of cards/thresholds.yaml (the administrator page's order)."""

    class Meta:
        unknown = RAISE

    lookback_days = _days(minimum=1)
    episode_merge_hours = _number()
    episode_followup_days = _days()
    count_triggered_anaphylaxis = _Bool(required=True)
    count_respiratory_with_airway_disease = _Bool(required=True)
    course_gap_days = _days(minimum=1)
    min_trial_days = fields.Nested(_MinTrialSchema, required=True)
    response_onset_days = fields.Nested(_ResponseOnsetSchema, required=True)
    recent_event_days = _days(minimum=1)
    min_anaphylaxis_episodes = _days(minimum=1)
    min_respiratory_events = _days(minimum=1)
    omalizumab_dose_mg_per_4_weeks = _number()
    mediator_thresholds = fields.Nested(_MediatorSchema, required=True)
    tryptase_acute_window_hours = _number()
    tryptase_baseline_gap_hours = _number()
    tryptase_sm_flag = _number()
    steroid_max_days = _days()
    biologic_review_window_days = fields.List(
        _Int(validate=validate.Range(min=0)), required=True, validate=validate.Length(equal=2)
    )
    order_dedupe_minutes = _days(minimum=1)
    cards_enabled = fields.Nested(_CardsEnabledSchema, required=True)
    snooze_days = fields.Nested(_SnoozeDaysSchema, required=True)

    @validates_schema
    def _window_ordered(self, data: dict[str, Any], **_: Any) -> None:
        window = data.get("biologic_review_window_days")
        if window and len(window) == 2 and window[0] > window[1]:
            raise ValidationError(
                "The low bound must not be above the high bound.", "biologic_review_window_days"
            )


def leaf_kinds() -> dict[str, str]:
    """Every leaf path of the schema with its kind, in the order of thresholds.yaml.

    Kinds: "int", "number", "optional-number" (empty = no threshold) or "bool".
    """
    kinds: dict[str, str] = {}
    for name, field in ThresholdsSchema().fields.items():
        nested = getattr(field, "nested", None)
        if nested is not None:
            for sub_name, sub_field in nested().fields.items():
                kinds[f"{name}.{sub_name}"] = _kind(sub_field)
        elif isinstance(field, fields.List):
            kinds[f"{name}.0"] = kinds[f"{name}.1"] = "int"
        else:
            kinds[name] = _kind(field)
    return kinds


def _kind(field: Any) -> str:
    if isinstance(field, _Bool):
        return "bool"
    if isinstance(field, _Int):
        return "int"
    return "optional-number" if field.allow_none else "number"


_RANGE_KEYS = ("min", "max", "warn_below", "warn_above")


def ranges_from_meta(raw: Any, *, origin: str) -> dict[str, FieldRange]:
    """The clinical range of every leaf, from the parsed thresholds metadata.

    Every numeric leaf states ``min``, ``max``, ``warn_below`` and ``warn_above`` (a number,
    or null for an open side); an on/off switch states none. Anything else raises
    ``ThresholdsError`` naming the entry, so the service does not start on it.
    """
    if not isinstance(raw, Mapping):
        raise ThresholdsError(f"{origin}: must hold a mapping of threshold fields")
    kinds = leaf_kinds()
    problems: list[str] = []
    for path in raw:
        if path not in kinds:
            why = REMOVED_FIELDS.get(str(path), "not a threshold field")
            problems.append(f"{path}: {why}")
    ranges: dict[str, FieldRange] = {}
    for path, kind in kinds.items():
        entry = raw.get(path)
        if not isinstance(entry, Mapping):
            problems.append(f"{path}: missing")
            continue
        try:
            ranges[path] = _field_range(entry, kind, kinds)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
    if problems:
        raise ThresholdsError(f"{origin}: " + "; ".join(problems))
    return ranges


def _field_range(entry: Mapping[str, Any], kind: str, kinds: Mapping[str, str]) -> FieldRange:
    if kind == "bool":
        if any(key in entry for key in (*_RANGE_KEYS, "min_after")):
            raise ValueError("an on/off switch has no range or warn bounds")
        return FieldRange()
    bounds: dict[str, float | None] = {}
    for key in _RANGE_KEYS:
        if key not in entry:
            raise ValueError(f"needs '{key}' (a number, or null for none)")
        value = entry[key]
        if value is not None and not is_number(value):
            raise ValueError(f"'{key}' must be a number or null")
        bounds[key] = value
    low, high = bounds["min"], bounds["max"]
    if low is not None and high is not None and low > high:
        raise ValueError("'min' is above 'max'")
    after, after_by = None, 0.0
    if "min_after" in entry:
        spec = entry["min_after"]
        if (
            not isinstance(spec, Mapping)
            or kinds.get(str(spec.get("field"))) not in {"int", "number"}
            or not is_number(spec.get("days"))
        ):
            raise ValueError("'min_after' needs a numeric 'field' and a number of 'days'")
        after, after_by = str(spec["field"]), float(spec["days"])
    return FieldRange(
        minimum=low,
        maximum=high,
        warn_below=bounds["warn_below"],
        warn_above=bounds["warn_above"],
        after=after,
        after_by=after_by,
    )


def _message(path: str, text: str) -> str:
    """marshmallow's message, saying so when the unknown field is a removed v1 setting."""
    if path in REMOVED_FIELDS and text.startswith("Unknown field"):
        return f"Unknown field: {REMOVED_FIELDS[path]}."
    return text


def schema_problems(
    values: Mapping[str, Any], ranges: Mapping[str, FieldRange]
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """(the loaded data, []) or (None, [(dotted path, message), ...]).

    A number outside its clinical range gets the range's message instead of the sign
    check's; a value of the wrong type gets the type message only.
    """
    try:
        data: dict[str, Any] | None = ThresholdsSchema().load(dict(values))
        problems = []
    except ValidationError as exc:
        data = None
        problems = [(path, _message(path, text)) for path, text in error_pairs(exc.messages)]
    flat = leaves(values)
    out_of_range: dict[str, str] = {}
    for path, field_range in ranges.items():
        value = flat.get(path)
        if is_number(value):
            why = field_range.problem(value, flat)
            if why:
                out_of_range[path] = why
    if out_of_range:
        problems = [(p, m) for p, m in problems if p not in out_of_range]
        problems.extend(out_of_range.items())
    return (data if not problems else None), problems


def thresholds_from_mapping(
    raw: Any, *, ranges: Mapping[str, FieldRange], origin: str = "thresholds"
) -> Thresholds:
    """Validate a parsed thresholds mapping against types and ranges; the frozen value."""
    if not isinstance(raw, Mapping):
        raise ThresholdsError(f"{origin}: the content must be a mapping of threshold names")
    data, problems = schema_problems(raw, ranges)
    if data is None:
        text = "; ".join(
            sorted(f"field '{path}': {text}" if path else text for path, text in problems)
        )
        raise ThresholdsError(f"{origin}: {text}")
    return _build(data)


def _tiers(values: Mapping[str, int]) -> Mapping[int, int]:
    return MappingProxyType({int(k.removeprefix("tier")): v for k, v in values.items()})


def _build(data: dict[str, Any]) -> Thresholds:
    floats = (
        "episode_merge_hours", "omalizumab_dose_mg_per_4_weeks", "tryptase_acute_window_hours",
        "tryptase_baseline_gap_hours", "tryptase_sm_flag",
    )
    canonical = {
        **data,
        **{name: float(data[name]) for name in floats},
        "mediator_thresholds": {k: float(v) for k, v in data["mediator_thresholds"].items()},
    }
    low, high = data["biologic_review_window_days"]
    return Thresholds(
        lookback_days=data["lookback_days"],
        episode_merge_hours=canonical["episode_merge_hours"],
        episode_followup_days=data["episode_followup_days"],
        count_triggered_anaphylaxis=data["count_triggered_anaphylaxis"],
        count_respiratory_with_airway_disease=data["count_respiratory_with_airway_disease"],
        course_gap_days=data["course_gap_days"],
        min_trial_days=_tiers(data["min_trial_days"]),
        response_onset_days=_tiers(data["response_onset_days"]),
        recent_event_days=data["recent_event_days"],
        min_anaphylaxis_episodes=data["min_anaphylaxis_episodes"],
        min_respiratory_events=data["min_respiratory_events"],
        omalizumab_dose_mg_per_4_weeks=canonical["omalizumab_dose_mg_per_4_weeks"],
        mediator_thresholds=MappingProxyType(canonical["mediator_thresholds"]),
        tryptase_acute_window_hours=canonical["tryptase_acute_window_hours"],
        tryptase_baseline_gap_hours=canonical["tryptase_baseline_gap_hours"],
        tryptase_sm_flag=canonical["tryptase_sm_flag"],
        steroid_max_days=data["steroid_max_days"],
        biologic_review_window_days=(low, high),
        order_dedupe_minutes=data["order_dedupe_minutes"],
        cards_enabled=MappingProxyType(dict(data["cards_enabled"])),
        snooze_days=MappingProxyType(dict(data["snooze_days"])),
        version=canonical_version(canonical),
    )
