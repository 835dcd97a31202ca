"""/admin/api/thresholds: read, validate, preview, apply, history, rollback, export.

Administrator bearer token on every route (service/web/admin_auth.py). Changes name the
version they edit (``base_version``); a stale one gets 409. docs/administration.md.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from service.cdshooks.json_body import parse_json_body
from service.cdshooks.text import storable
from service.cdshooks.validation_errors import invalid_request
from service.errors import BadRequest, NotFound
from service.ops.state import state
from service.thresholds import admin
from service.thresholds.fields import thresholds_to_mapping
from service.thresholds.model import ThresholdsError
from service.thresholds.preview import load_scenarios, preview
from service.thresholds.source import ActiveThresholds
from service.web.admin_auth import protect_blueprint
from service.web.errors import outcome_response
from service.web.storage import storage
from service.web.thresholds_fields import fields_info

log = logging.getLogger(__name__)

bp = protect_blueprint(Blueprint("admin_thresholds", __name__, url_prefix="/admin/api/thresholds"))


class _ProposalSchema(Schema):
    class Meta:
        unknown = RAISE

    values = fields.Dict(required=True)


class _ChangeSchema(Schema):
    class Meta:
        unknown = RAISE

    base_version = fields.String(required=True, validate=[validate.Length(min=1, max=64), storable])
    author = fields.String(required=True, validate=[validate.Length(min=1, max=128), storable])
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=2000), storable])


_TOPIC = fields.String(validate=[validate.Length(min=1, max=64), storable])


class _ApplySchema(_ChangeSchema):
    values = fields.Dict(required=True)
    # warning cards the administrator confirmed switching off (issue 16)
    confirm_switch_off = fields.List(_TOPIC, load_default=list,
                                     validate=validate.Length(max=64))


def _to_version() -> fields.Integer:
    return fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=admin.MAX_VERSION_NUMBER),
    )


class _TargetSchema(Schema):
    class Meta:
        unknown = RAISE

    to_version = _to_version()


class _RollbackSchema(_ChangeSchema):
    to_version = _to_version()
    # the proposed_version the rollback preview answered: a rollback is previewed first
    previewed_version = fields.String(validate=[validate.Length(min=1, max=64), storable])
    confirm_switch_off = fields.List(_TOPIC, load_default=list,
                                     validate=validate.Length(max=64))


def warning_topics() -> frozenset[str]:
    """Cards whose indicator is warning: switching one off needs a confirmation."""
    return frozenset(
        topic for topic, text in state().knowledge.cards.topics.items()
        if text.indicator == "warning"
    )


def _body(schema: Schema) -> dict[str, Any]:
    body = parse_json_body(request.get_data(cache=False))
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    try:
        data: dict[str, Any] = schema.load(body)
    except ValidationError as exc:
        raise invalid_request(exc.messages) from None
    for key in ("author", "reason"):
        if key in data and not data[key].strip():
            raise BadRequest(f"{key}: Must not be blank.", fields=[key])
    return data


def _provider() -> ActiveThresholds:
    provider = state().thresholds
    if not isinstance(provider, ActiveThresholds):  # pragma: no cover (tests replace it)
        raise BadRequest("Thresholds are not administered on this app.")
    return provider


def _invalid(errors: list[dict[str, str]]) -> Response:
    """400 OperationOutcome, one issue per field, its path in ``expression``."""
    return outcome_response(
        400,
        [f"{e['field']}: {e['message']}" for e in errors],
        fields=[e["field"] for e in errors],
    )


@bp.errorhandler(ThresholdsError)
def _stored_version_invalid(exc: ThresholdsError) -> Response:
    # A stored version this code no longer accepts (a release changed the schema): say
    # so plainly; the hooks keep serving the last good version meanwhile.
    log.error("a stored thresholds version does not validate")
    return outcome_response(500, f"{exc}. Apply or roll back to a version valid for this release.")


def _engine() -> Any:
    return storage().engine() if _provider().uses_database else None


@bp.get("")
def active() -> ResponseReturnValue:
    current = admin.read_active(_provider(), _engine())
    return jsonify(admin.describe(current, fields_info(), _provider()))


@bp.post("/validate")
def validate_proposal() -> ResponseReturnValue:
    values = _body(_ProposalSchema())["values"]
    try:
        proposed = admin.checked(_provider(), values)
    except admin.ProposalInvalid as exc:
        return jsonify({"valid": False, "errors": exc.errors, "warnings": []})
    current = admin.read_active(_provider(), _engine())
    return jsonify(
        {
            "valid": True,
            "errors": [],
            # Accepted but unusual values (below warn_below, above warn_above, or 0).
            "warnings": admin.warnings_of(_provider(), values),
            "content_hash": proposed.version,
            "changes": admin.changes_from(current, values),
            "needs_confirmation": _needs_confirmation(current, values),
        }
    )


def _needs_confirmation(current: admin.Active, values: Any) -> list[dict[str, str]]:
    """The warning cards this proposal switches off: apply needs each confirmed."""
    topics = admin.switched_off(thresholds_to_mapping(current.thresholds), values,
                                warning_topics())
    return [{"field": f"cards_enabled.{t}", "topic": t,
             "title": state().knowledge.cards.topics[t].title} for t in topics]


@bp.post("/preview")
def preview_proposal() -> ResponseReturnValue:
    values = _body(_ProposalSchema())["values"]
    try:
        proposed = admin.checked(_provider(), values)
    except admin.ProposalInvalid as exc:
        return _invalid(exc.errors)
    current = admin.read_active(_provider(), _engine())
    return jsonify(_previewed(current, proposed, values))


def _previewed(current: admin.Active, proposed: Any, values: Any) -> dict[str, Any]:
    now = state().clock()
    scenarios, problems = load_scenarios(current_app.config, now)
    result = preview(
        scenarios,
        knowledge=state().knowledge,
        current=current.thresholds,
        proposed=proposed,
        now=now,
    )
    result["problems"] = problems
    result["warnings"] = admin.warnings_of(_provider(), values)
    result["changes"] = admin.changes_from(current, values)
    result["needs_confirmation"] = _needs_confirmation(current, values)
    return result


@bp.post("/rollback/preview")
def preview_rollback() -> ResponseReturnValue:
    """What a rollback would change, as a preview; its proposed_version confirms it."""
    to_version = _body(_TargetSchema())["to_version"]
    engine = storage().engine() if _provider().uses_database else None
    if engine is None:
        return _refusal(admin.FileMode())
    try:
        wanted = admin.rollback_target(_provider(), engine, to_version)
    except LookupError as exc:
        return outcome_response(404, str(exc))
    except admin.ProposalInvalid as exc:
        return _invalid(exc.errors)
    current = admin.read_active(_provider(), engine)
    values = thresholds_to_mapping(wanted)
    result = _previewed(current, wanted, values)
    result["to_version"] = to_version
    result["proposed_version"] = admin.content_hash(wanted)
    return jsonify(result)


def _change_response(made: Any) -> ResponseReturnValue:
    return jsonify({**made.summary(), "warnings": admin.warnings_of(_provider(), made.values)}), 201


def _refusal(exc: Exception) -> Response:
    if isinstance(exc, admin.StaleVersion):
        return outcome_response(
            409,
            f"The proposal edits {exc.expected}, but the active version is now {exc.active}: "
            "reload, review the other change, and propose again.",
        )
    if isinstance(exc, admin.FileMode):
        return outcome_response(
            409,
            "Thresholds come from the thresholds file here (MCAS_THRESHOLDS_SOURCE=file): "
            "change the file and redeploy, or export and commit it.",
        )
    return outcome_response(400, str(exc))


@bp.post("/apply")
def apply_proposal() -> ResponseReturnValue:
    data = _body(_ApplySchema())
    try:
        made = admin.apply(
            _provider(),
            storage().engine(),
            values=data["values"],
            base_version=data["base_version"],
            author=data["author"].strip(),
            reason=data["reason"].strip(),
            now=state().clock(),
            warning_topics=warning_topics(),
            confirmed_off=frozenset(data["confirm_switch_off"]),
        )
    except (admin.ProposalInvalid, admin.ConfirmationNeeded) as exc:
        return _invalid(exc.errors)
    except (admin.StaleVersion, admin.FileMode, admin.NoChange) as exc:
        return _refusal(exc)
    log.info("thresholds version %s applied", made.version_id)
    return _change_response(made)


@bp.post("/rollback")
def rollback() -> ResponseReturnValue:
    data = _body(_RollbackSchema())
    try:
        made = admin.rollback(
            _provider(),
            storage().engine(),
            to_version=data["to_version"],
            base_version=data["base_version"],
            author=data["author"].strip(),
            reason=data["reason"].strip(),
            now=state().clock(),
            previewed_version=data.get("previewed_version"),
            warning_topics=warning_topics(),
            confirmed_off=frozenset(data["confirm_switch_off"]),
        )
    except LookupError as exc:
        return outcome_response(404, str(exc))
    except (admin.ProposalInvalid, admin.ConfirmationNeeded) as exc:
        return _invalid(exc.errors)
    except (admin.StaleVersion, admin.FileMode, admin.NoChange) as exc:
        return _refusal(exc)
    log.info("thresholds rolled back to version %d as %s", data["to_version"], made.version_id)
    return _change_response(made)


@bp.get("/history")
def history() -> ResponseReturnValue:
    return jsonify(admin.history_of(_provider(), _engine()))


@bp.get("/versions/<int:number>")
def version(number: int) -> ResponseReturnValue:
    found = admin.version_detail(_provider(), _engine(), number)
    if found is None:
        raise NotFound(f"There is no thresholds version {number}.")
    return jsonify(found)


@bp.get("/export")
def export() -> ResponseReturnValue:
    text = admin.export_yaml(admin.read_active(_provider(), _engine()))
    return Response(
        text,
        mimetype="application/yaml",
        headers={"Content-Disposition": 'attachment; filename="thresholds.yaml"'},
    )
