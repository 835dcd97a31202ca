"""Validating thresholds: ``ThresholdsSchema`` and ``thresholds_from_mapping``.

A wrong type, a value out of range or an unknown key raises ``ThresholdsError`` naming the
origin, the field and the problem, so a bad file stops the service before it answers.
Stored versions (service/storage/thresholds_store.py) are validated by the same schema.
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
    Thresholds,
    ThresholdsError,
    canonical_version,
)


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


def _strict(schema_fields: dict[str, fields.Field[Any]]) -> type[Schema]:
    attrs: dict[str, Any] = {"Meta": type("Meta", (), {"unknown": RAISE}), **schema_fields}
    return type("Nested", (Schema,), attrs)


_MinTrialSchema = _strict({f"tier{n}": _days() for n in range(1, 5)})
_MediatorSchema = _strict(
    {
        name: _Number(required=True, allow_none=True, validate=validate.Range(min=0))
        for name in ANALYTES_WITH_THRESHOLD
    }
)
_CardsEnabledSchema = _strict({topic: _Bool(required=True) for topic in TOPICS})


class ThresholdsSchema(Schema):
    class Meta:
        unknown = RAISE

    lookback_days = _days(minimum=1)
    episode_merge_hours = _Number(required=True, validate=validate.Range(min=0))
    min_trial_days = fields.Nested(_MinTrialSchema, required=True)
    min_anaphylaxis_episodes = _days(minimum=1)
    min_respiratory_events = _days(minimum=1)
    mediator_thresholds = fields.Nested(_MediatorSchema, required=True)
    tryptase_acute_window_hours = _Number(required=True, validate=validate.Range(min=0))
    tryptase_factor = _Number(
        required=True, validate=validate.Range(min=0, min_inclusive=False)
    )
    tryptase_addend = _Number(required=True, validate=validate.Range(min=0))
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


def thresholds_from_mapping(raw: Any, *, origin: str = "thresholds") -> Thresholds:
    """Validate a parsed thresholds mapping and build the frozen value."""
    if not isinstance(raw, Mapping):
        raise ThresholdsError(f"{origin}: the content must be a mapping of threshold names")
    try:
        data = ThresholdsSchema().load(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            sorted(
                f"field '{path}': {text}" if path else text
                for path, text in error_pairs(exc.messages)
            )
        )
        raise ThresholdsError(f"{origin}: {problems}") from None
    canonical = {
        **data,
        "episode_merge_hours": float(data["episode_merge_hours"]),
        "tryptase_acute_window_hours": float(data["tryptase_acute_window_hours"]),
        "tryptase_factor": float(data["tryptase_factor"]),
        "tryptase_addend": float(data["tryptase_addend"]),
        "mediator_thresholds": {
            k: (None if v is None else float(v)) for k, v in data["mediator_thresholds"].items()
        },
    }
    low, high = data["biologic_review_window_days"]
    return Thresholds(
        lookback_days=data["lookback_days"],
        episode_merge_hours=canonical["episode_merge_hours"],
        min_trial_days=MappingProxyType(
            {int(k.removeprefix("tier")): v for k, v in data["min_trial_days"].items()}
        ),
        min_anaphylaxis_episodes=data["min_anaphylaxis_episodes"],
        min_respiratory_events=data["min_respiratory_events"],
        mediator_thresholds=MappingProxyType(canonical["mediator_thresholds"]),
        tryptase_acute_window_hours=canonical["tryptase_acute_window_hours"],
        tryptase_factor=canonical["tryptase_factor"],
        tryptase_addend=canonical["tryptase_addend"],
        steroid_max_days=data["steroid_max_days"],
        biologic_review_window_days=(low, high),
        cards_enabled=MappingProxyType(dict(data["cards_enabled"])),
        version=canonical_version(canonical),
    )
