"""Validating thresholds: ``ThresholdsSchema`` and ``thresholds_from_mapping``.

A wrong type, a value out of range or an unknown key raises ``ThresholdsError`` naming the
origin, the field and the problem, so a bad file stops the service before it answers.
Stored versions (service/storage/thresholds_store.py) are validated by the same schema.
A setting rules v2 removed (``REMOVED_FIELDS``) is refused as unknown, saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from service.cdshooks.validation_errors import error_pairs
from service.knowledge.topics import TOPICS
from service.thresholds.model import (
    ANALYTES_WITH_THRESHOLD,
    REMOVED_FIELDS,
    Thresholds,
    ThresholdsError,
    canonical_version,
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
_CardsEnabledSchema = _strict({topic: _Bool(required=True) for topic in TOPICS})


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
    cards_enabled = fields.Nested(_CardsEnabledSchema, required=True)

    @validates_schema
    def _window_ordered(self, data: dict[str, Any], **_: Any) -> None:
        window = data.get("biologic_review_window_days")
        if window and len(window) == 2 and window[0] > window[1]:
            raise ValidationError(
                "The low bound must not be above the high bound.", "biologic_review_window_days"
            )


def _message(path: str, text: str) -> str:
    """marshmallow's message, saying so when the unknown field is a removed v1 setting."""
    if path in REMOVED_FIELDS and text.startswith("Unknown field"):
        return f"Unknown field: {REMOVED_FIELDS[path]}."
    return text


def schema_problems(
    values: Mapping[str, Any],
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """(the loaded data, []) or (None, [(dotted path, message), ...])."""
    try:
        return ThresholdsSchema().load(dict(values)), []
    except ValidationError as exc:
        return None, [(path, _message(path, text)) for path, text in error_pairs(exc.messages)]


def thresholds_from_mapping(raw: Any, *, origin: str = "thresholds") -> Thresholds:
    """Validate a parsed thresholds mapping and build the frozen value."""
    if not isinstance(raw, Mapping):
        raise ThresholdsError(f"{origin}: the content must be a mapping of threshold names")
    data, problems = schema_problems(raw)
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
        cards_enabled=MappingProxyType(dict(data["cards_enabled"])),
        version=canonical_version(canonical),
    )
