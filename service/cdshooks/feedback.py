"""The CDS Hooks 2.0 feedback request, validated with marshmallow.

https://cds-hooks.hl7.org/2.0/#feedback: ``{"feedback": [Feedback, ...]}``; each item
names the card, an outcome (accepted|overridden), acceptedSuggestions (required when
accepted), an optional overrideReason and the outcomeTimestamp (RFC 3339 instant).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from service.cdshooks.text import storable
from service.cdshooks.validation_errors import invalid_request
from service.errors import BadRequest


@dataclass(frozen=True)
class FeedbackItem:
    card: str
    outcome: str
    outcome_at: datetime
    accepted_suggestions: tuple[str, ...] = ()
    override_system: str | None = None
    override_code: str | None = None
    override_display: str | None = None
    user_comment: str | None = None

    @property
    def key(self) -> str:
        """Identity of the item per CDS Hooks: card, outcome, timestamp, suggestions."""
        identity = [
            self.card,
            self.outcome,
            self.outcome_at.astimezone(UTC).isoformat(timespec="microseconds"),
            sorted(set(self.accepted_suggestions)),
        ]
        return hashlib.sha256(json.dumps(identity).encode("utf-8")).hexdigest()


MAX_ITEMS = 500
OUTCOMES = ("accepted", "overridden")


class _Instant(fields.Field[datetime]):
    """An RFC 3339 date-time with a zone, e.g. 2026-11-25T11:44:40.745Z."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own idiom)
        "invalid": "Not an ISO 8601 date-time with a time zone, e.g. 2026-11-25T11:44:40Z.",
        "range": "Outside the instants this service can record (years 1 to 9999 in UTC).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or "T" not in value.upper():
            raise self.make_error("invalid")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        if moment.tzinfo is None:
            raise self.make_error("invalid")
        try:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
            return moment.astimezone(UTC)
        except OverflowError:
            raise self.make_error("range") from None


class _CodingSchema(Schema):
    class Meta:
        unknown = INCLUDE

    code = fields.String(required=True, validate=[validate.Length(min=1, max=128), storable])
    system = fields.String(required=True, validate=[validate.Length(min=1, max=256), storable])
    display = fields.String(validate=[validate.Length(max=256), storable])


class _OverrideReasonSchema(Schema):
    class Meta:
        unknown = INCLUDE

    reason = fields.Nested(_CodingSchema)
    userComment = fields.String(validate=[validate.Length(max=4000), storable])

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if "reason" not in data and "userComment" not in data:
            raise ValidationError("An overrideReason needs a reason, a userComment or both.")


class _AcceptedSuggestionSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True, validate=[validate.Length(min=1, max=128), storable])


class _FeedbackItemSchema(Schema):
    class Meta:
        unknown = INCLUDE

    card = fields.String(required=True, validate=[validate.Length(min=1, max=64), storable])
    outcome = fields.String(
        required=True, validate=validate.OneOf(OUTCOMES, error="Must be accepted or overridden.")
    )
    acceptedSuggestions = fields.List(
        fields.Nested(_AcceptedSuggestionSchema), validate=validate.Length(max=100)
    )
    overrideReason = fields.Nested(_OverrideReasonSchema)
    outcomeTimestamp = _Instant(required=True)

    @validates_schema
    def _suggestions_when_accepted(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("outcome") == "accepted" and not data.get("acceptedSuggestions"):
            raise ValidationError(
                "Required when outcome is accepted (at least one {id}).", "acceptedSuggestions"
            )


class FeedbackRequestSchema(Schema):
    class Meta:
        unknown = INCLUDE

    feedback = fields.List(fields.Nested(_FeedbackItemSchema), required=True)

    @validates("feedback")
    def _bounded(self, value: list[Any], **_: Any) -> None:
        if len(value) > MAX_ITEMS:
            raise ValidationError(f"At most {MAX_ITEMS} items in one request.")


_SCHEMA = FeedbackRequestSchema()


def load_feedback(body: Any) -> list[FeedbackItem]:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object with a 'feedback' array.")
    try:
        data = _SCHEMA.load(body)
    except ValidationError as exc:
        raise invalid_request(exc.messages) from None
    return [_item(raw) for raw in data["feedback"]]


def _item(data: dict[str, Any]) -> FeedbackItem:
    override = data.get("overrideReason") or {}
    reason = override.get("reason") or {}
    return FeedbackItem(
        card=data["card"],
        outcome=data["outcome"],
        outcome_at=data["outcomeTimestamp"],
        accepted_suggestions=tuple(s["id"] for s in data.get("acceptedSuggestions") or ()),
        override_system=reason.get("system"),
        override_code=reason.get("code"),
        override_display=reason.get("display"),
        user_comment=override.get("userComment"),
    )
