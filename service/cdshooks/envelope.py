"""The CDS Hooks request envelope, validated with marshmallow before anything reads it.

Only the envelope is checked here, and the shape of each prefetch value: ``null``, or a
JSON object with a string ``resourceType``; a Bundle's ``entry`` and ``link``, when
present and not null, arrays of objects. Anything else is a 400 naming
``prefetch.<key>`` (or ``prefetch.<key>.entry``, ``.link``). The FHIR content inside is
read later, one resource at a time, so that one malformed resource never rejects the
whole request (docs/clinical-rules.md section 2).

Each service answers one hook, and its context is checked by that hook's schema
(``CONTEXT_SCHEMAS``): patient-view (patientId), order-select and order-sign (userId,
patientId, encounterId, ``draftOrders``: a Bundle of draft orders, each with a
resourceType the hooks list and an id; order-select also ``selections``, each naming a
draft order of the Bundle). The draft orders themselves are read later, like prefetch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from service.cdshooks.text import storable, visible_ascii
from service.cdshooks.validation_errors import invalid_request
from service.errors import BadRequest

SUPPORTED_HOOK = "patient-view"
ORDER_SELECT = "order-select"
ORDER_SIGN = "order-sign"
# The resource types of draftOrders (CDS Hooks order-select and order-sign); the rules read
# MedicationRequests, other orders are accepted and not judged.
DRAFT_ORDER_TYPES: tuple[str, ...] = (
    "MedicationRequest", "ServiceRequest", "NutritionOrder", "DeviceRequest",
    "VisionPrescription", "CommunicationRequest",
)


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


def _draft_order_errors(bundle: Any) -> Any:
    """marshmallow-style errors of a draftOrders value, or None when it holds together."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return ["Must be a FHIR Bundle of draft orders (resourceType Bundle)."]
    entries = bundle.get("entry")
    if entries is None:
        return None
    if not isinstance(entries, list):
        return {"entry": ["When present, must be an array of objects (Bundle.entry)."]}
    errors: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            errors[str(index)] = {"resource": ["Must be a FHIR resource (a JSON object)."]}
            continue
        kind = resource.get("resourceType")
        problems: dict[str, list[str]] = {}
        if kind not in DRAFT_ORDER_TYPES:
            problems["resourceType"] = [
                f"Must be a draft order type: {', '.join(DRAFT_ORDER_TYPES)}."]
        rid = resource.get("id")
        if not isinstance(rid, str) or not rid or len(rid) > 64:
            problems["id"] = ["Each draft order needs an id (1-64 characters)."]
        if problems:
            errors[str(index)] = {"resource": problems}
    return {"entry": errors} if errors else None


def draft_order_references(bundle: Any) -> list[str]:
    """"ResourceType/id" of each draft order of a checked draftOrders Bundle."""
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in (bundle.get("entry") or [])]


class _OrderSignContextSchema(Schema):
    class Meta:
        unknown = INCLUDE

    patientId = fields.String(required=True, validate=[validate.Length(min=1, max=64), storable])
    userId = fields.String(required=True, validate=[validate.Length(min=1, max=256), storable])
    encounterId = fields.String(validate=[validate.Length(max=256), storable])
    draftOrders = fields.Raw(required=True)

    @validates_schema
    def _draft_orders(self, data: dict[str, Any], **_: Any) -> None:
        if "draftOrders" in data:
            errors = _draft_order_errors(data["draftOrders"])
            if errors:
                raise ValidationError({"draftOrders": errors})


class _OrderSelectContextSchema(_OrderSignContextSchema):
    selections = fields.List(fields.String(validate=storable), required=True)

    @validates_schema
    def _selections_name_drafts(self, data: dict[str, Any], **_: Any) -> None:
        if "draftOrders" not in data or "selections" not in data:
            return
        if _draft_order_errors(data["draftOrders"]):
            return  # said by _draft_orders
        known = set(draft_order_references(data["draftOrders"]))
        errors = {
            str(i): [f"{ref!r} names no draft order of draftOrders (ResourceType/id)."]
            for i, ref in enumerate(data["selections"]) if ref not in known
        }
        if errors:
            raise ValidationError({"selections": errors})


# The context each hook carries (CDS Hooks 2.0 hook definitions).
CONTEXT_SCHEMAS: dict[str, type[Schema]] = {
    SUPPORTED_HOOK: _PatientViewContextSchema,
    ORDER_SELECT: _OrderSelectContextSchema,
    ORDER_SIGN: _OrderSignContextSchema,
}


class HookRequestSchema(Schema):
    """The envelope of one service's hook (``hook``: the hook the service answers)."""

    class Meta:
        unknown = INCLUDE

    hook = fields.String(required=True)
    hookInstance = fields.UUID(required=True)
    context = fields.Raw(required=True)
    fhirServer = fields.Url(require_tld=False, schemes={"http", "https"})
    fhirAuthorization = fields.Nested(_FhirAuthorizationSchema)
    prefetch = fields.Dict(
        keys=fields.String(), values=fields.Raw(allow_none=True), allow_none=True
    )

    def __init__(self, hook: str = SUPPORTED_HOOK, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_hook = hook
        self.context_schema = CONTEXT_SCHEMAS[hook]()

    @validates_schema
    def _the_service_hook(self, data: dict[str, Any], **_: Any) -> None:
        if "hook" in data and data["hook"] != self.service_hook:
            raise ValidationError(
                f"This service answers only {self.service_hook}.", "hook")

    @validates_schema
    def _context(self, data: dict[str, Any], **_: Any) -> None:
        if "context" not in data:
            return
        if not isinstance(data["context"], dict):
            raise ValidationError({"context": ["Not a valid mapping type."]})
        try:
            data["context"] = self.context_schema.load(data["context"])
        except ValidationError as exc:
            raise ValidationError({"context": exc.messages}) from None

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


_SCHEMAS = {hook: HookRequestSchema(hook) for hook in CONTEXT_SCHEMAS}


@dataclass(frozen=True)
class HookRequest:
    hook_instance: str
    patient_id: str
    fhir_server: str | None
    access_token: str | None = field(repr=False)
    context: dict[str, Any]
    # Raw prefetch as sent: a key may be absent, None, a Bundle or a single resource.
    prefetch: dict[str, Any]
    hook: str = SUPPORTED_HOOK
    user_id: str | None = None
    encounter_id: str | None = None
    # order-select and order-sign: the draft orders (raw resources, read later) and, for
    # order-select, the "ResourceType/id" of the orders just selected (None: judge all).
    draft_orders: tuple[dict[str, Any], ...] = ()
    selections: tuple[str, ...] | None = None


def load_hook_request(body: Any, hook: str = SUPPORTED_HOOK) -> HookRequest:
    """The request of a service answering ``hook`` (a key of ``CONTEXT_SCHEMAS``)."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    # Validate everything but the prefetch content here; fields.Raw keeps that as-is.
    try:
        data = _SCHEMAS[hook].load(body)
    except ValidationError as exc:
        raise invalid_request(exc.messages) from None
    authorization = data.get("fhirAuthorization") or {}
    context = data["context"]
    # Only the order hooks' contexts check draftOrders and selections: a patient-view
    # context may carry anything under those names (unknown keys are kept), unread.
    ordered = hook in (ORDER_SELECT, ORDER_SIGN)
    drafts = context.get("draftOrders") if ordered else None
    selections = context.get("selections") if ordered else None
    return HookRequest(
        hook_instance=str(data["hookInstance"]),
        patient_id=context["patientId"],
        fhir_server=data.get("fhirServer"),
        access_token=authorization.get("access_token"),
        context=context,
        prefetch=data.get("prefetch") or {},
        hook=hook,
        user_id=context.get("userId"),
        encounter_id=context.get("encounterId"),
        draft_orders=tuple(
            e["resource"] for e in (drafts.get("entry") or [])
        ) if isinstance(drafts, dict) else (),
        selections=tuple(selections) if selections is not None else None,
    )
