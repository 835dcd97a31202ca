"""The CDS Hooks request envelope, validated with marshmallow before anything reads it.

Only the envelope is checked here, and the shape of each prefetch value: ``null``, or a
JSON object with a string ``resourceType``; a Bundle's ``entry`` and ``link``, when
present and not null, arrays of objects. Anything else is a 400 naming
``prefetch.<key>`` (or ``prefetch.<key>.entry``, ``.link``). The FHIR content inside is
read later, one resource at a time, so that one malformed resource never rejects the
whole request (docs/clinical-rules.md section 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from service.cdshooks.text import storable, visible_ascii
from service.cdshooks.validation_errors import invalid_request
from service.errors import BadRequest

SUPPORTED_HOOK = "patient-view"


class _FhirAuthorizationSchema(Schema):
    class Meta:
        unknown = INCLUDE

    access_token = fields.String(required=True, validate=[validate.Length(min=1), visible_ascii])
    token_type = fields.String(required=True, validate=validate.Equal("Bearer"))
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)
    subject = fields.String(required=True)
    patient = fields.String()


class _PatientViewContextSchema(Schema):
    class Meta:
        unknown = INCLUDE

    patientId = fields.String(required=True, validate=[validate.Length(min=1, max=64), storable])
    userId = fields.String(validate=storable)
    encounterId = fields.String(validate=storable)


class HookRequestSchema(Schema):
    class Meta:
        unknown = INCLUDE

    hook = fields.String(
        required=True,
        validate=validate.Equal(SUPPORTED_HOOK, error="This service answers only patient-view."),
    )
    hookInstance = fields.UUID(required=True)
    context = fields.Nested(_PatientViewContextSchema, required=True)
    fhirServer = fields.Url(require_tld=False, schemes={"http", "https"})
    fhirAuthorization = fields.Nested(_FhirAuthorizationSchema)
    prefetch = fields.Dict(
        keys=fields.String(), values=fields.Raw(allow_none=True), allow_none=True
    )

    @validates_schema
    def _authorization_needs_server(self, data: dict[str, Any], **_: Any) -> None:
        if "fhirAuthorization" in data and "fhirServer" not in data:
            raise ValidationError("fhirAuthorization requires fhirServer.", "fhirAuthorization")

    @validates_schema
    def _prefetch_shapes(self, data: dict[str, Any], **_: Any) -> None:
        errors = prefetch_shape_errors(data.get("prefetch") or {})
        if errors:
            raise ValidationError({"prefetch": errors})


def _array_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def prefetch_shape_errors(prefetch: dict[str, Any]) -> dict[str, Any]:
    """marshmallow-style errors for prefetch values of the wrong shape ({} when none)."""
    errors: dict[str, Any] = {}
    for key, value in prefetch.items():
        if value is None:
            continue  # real absence
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            errors[key] = [
                "Must be null, a FHIR Bundle or a FHIR resource (a JSON object "
                "with a resourceType)."
            ]
            continue
        if value["resourceType"] != "Bundle":
            continue
        members = {
            member: [f"When present, must be an array of objects (Bundle.{member})."]
            for member in ("entry", "link")
            if value.get(member) is not None and not _array_of_objects(value[member])
        }
        if members:
            errors[key] = members
    return errors


_SCHEMA = HookRequestSchema()


@dataclass(frozen=True)
class HookRequest:
    hook_instance: str
    patient_id: str
    fhir_server: str | None
    access_token: str | None = field(repr=False)
    context: dict[str, Any]
    # Raw prefetch as sent: a key may be absent, None, a Bundle or a single resource.
    prefetch: dict[str, Any]


def parse_json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.") from None


def load_hook_request(body: Any) -> HookRequest:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    # Validate everything but the prefetch content here; fields.Raw keeps that as-is.
    try:
        data = _SCHEMA.load(body)
    except ValidationError as exc:
        raise invalid_request(exc.messages) from None
    authorization = data.get("fhirAuthorization") or {}
    return HookRequest(
        hook_instance=str(data["hookInstance"]),
        patient_id=data["context"]["patientId"],
        fhir_server=data.get("fhirServer"),
        access_token=authorization.get("access_token"),
        context=data["context"],
        prefetch=data.get("prefetch") or {},
    )
