"""The CDS Hooks request envelope, validated with marshmallow before anything reads it.

Only the envelope is checked here; the FHIR content of ``prefetch`` is read later, one
resource at a time, so that one malformed resource never rejects the whole request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from service.cdshooks.validation_errors import error_lines
from service.errors import BadRequest

SUPPORTED_HOOK = "patient-view"


class _FhirAuthorizationSchema(Schema):
    class Meta:
        unknown = INCLUDE

    access_token = fields.String(required=True, validate=validate.Length(min=1))
    token_type = fields.String(required=True, validate=validate.Equal("Bearer"))
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)
    subject = fields.String(required=True)
    patient = fields.String()


class _PatientViewContextSchema(Schema):
    class Meta:
        unknown = INCLUDE

    patientId = fields.String(required=True, validate=validate.Length(min=1, max=64))
    userId = fields.String()
    encounterId = fields.String()


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
        raise BadRequest(error_lines(exc.messages)) from None
    authorization = data.get("fhirAuthorization") or {}
    return HookRequest(
        hook_instance=str(data["hookInstance"]),
        patient_id=data["context"]["patientId"],
        fhir_server=data.get("fhirServer"),
        access_token=authorization.get("access_token"),
        context=data["context"],
        prefetch=data.get("prefetch") or {},
    )
