"""/timeline: the SMART on FHIR timeline app's HTTP side (docs/timeline.md).

``/timeline/launch`` (EHR launch: ``launch`` + ``iss``) -> the EHR's authorization server
-> ``/timeline/callback`` (code + ``state``) -> ``/timeline/`` (the picture). The OAuth
and SMART logic, the session store, the reading and the drawing are in
``service/timeline/`` (no Flask); this module turns them into pages and cookies.

Every failure is a page saying what happened and what to do, with the HTTP status that
fits, never a stack trace; the log and ``/metrics`` get a fixed reason code only (no
token, code, state, cookie or patient id). Pages carry a strict Content-Security-Policy:
this origin's stylesheet, no script at all.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from service.auth import audience
from service.fhir.fallback import FallbackSettings
from service.ops import metrics
from service.ops.state import state
from service.pipeline.prefetch import prefetch_templates
from service.settings import SettingError
from service.timeline import oauth, smart
from service.timeline.course import TIER_LABELS, read_course
from service.timeline.errors import TimelineError
from service.timeline.picture import render_svg, rows
from service.timeline.sealing import MIN_SECRET_LENGTH, SecretBox
from service.timeline.store import TimelineStore, new_value
from service.web.storage import storage

log = logging.getLogger(__name__)

EXTENSION_KEY = "mcas_timeline"
SESSION_COOKIE = "mcas_timeline"
LAUNCH_COOKIE = "mcas_timeline_launch"
COOKIE_PATH = "/timeline"
BASE_SCOPES = ("launch", "openid", "fhirUser")

bp = Blueprint(
    "timeline",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/timeline/static",
)


def default_scopes(templates: dict[str, str]) -> str:
    """``launch openid fhirUser`` and read access to each resource type the hooks query."""
    types = dict.fromkeys(t.split("?", 1)[0].split("/", 1)[0] for t in templates.values())
    return " ".join([*BASE_SCOPES, *(f"patient/{kind}.rs" for kind in types)])


def init_app(app: Flask) -> None:
    """Check the settings and register the app's routes, when MCAS_TIMELINE_ENABLED."""
    if not app.config.get("TIMELINE_ENABLED"):
        return
    secret = app.config.get("SECRET_KEY") or ""
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingError(
            f"MCAS_SECRET_KEY (at least {MIN_SECRET_LENGTH} characters, the same on every "
            "replica) is required when MCAS_TIMELINE_ENABLED=true."
        )
    if not app.config.get("TIMELINE_CLIENT_ID"):
        raise SettingError(
            "MCAS_TIMELINE_CLIENT_ID (the client id the EHR issued) is required when "
            "MCAS_TIMELINE_ENABLED=true."
        )
    FallbackSettings.from_config(app.config)  # a bad allowlist stops start-up here too
    app.extensions[EXTENSION_KEY] = SecretBox(secret)
    app.register_blueprint(bp)


def public_base(config: Any) -> str | None:
    """The service's address as browsers and the EHR use it, or None when unknown.

    ``MCAS_PUBLIC_BASE_URL``, else the request's Host when ``MCAS_ALLOWED_HOSTS`` lists it
    (the same rule as the tokens' ``aud``, service/auth/audience.py), else, in local
    testing mode only, the Host as received. Never a Host nobody vouched for: it would
    become the redirect URI and the cards' launch link.
    """
    raw_hosts = config.get("ALLOWED_HOSTS") or []
    hosts = audience.parse_allowed_hosts(raw_hosts) if isinstance(raw_hosts, str) else raw_hosts
    try:
        return audience.expected_audience(
            public_base_url=config.get("PUBLIC_BASE_URL"), allowed_hosts=hosts,
            scheme=request.scheme, host=request.host, script_root=request.script_root,
            path="",
        ).rstrip("/")
    except audience.AudienceUnknown:
        if config.get("AUTH_DISABLED"):
            return (request.host_url + request.script_root.lstrip("/")).rstrip("/")
        return None


def launch_url(config: Any) -> str | None:
    """The app's launch URL for the cards' ``smart`` link; None when off or unknown."""
    if not config.get("TIMELINE_ENABLED"):
        return None
    base = public_base(config)
    return base + "/timeline/launch" if base else None


def _base_url() -> str:
    base = public_base(current_app.config)
    if base is None:
        raise TimelineError(
            "not_configured",
            "The service does not know its public address: set MCAS_PUBLIC_BASE_URL (or list "
            "this host in MCAS_ALLOWED_HOSTS).",
            503,
        )
    return base


def _store() -> TimelineStore:
    return TimelineStore(storage().engine, current_app.extensions[EXTENSION_KEY])


def _client() -> oauth.Client:
    config = current_app.config
    scope = config.get("TIMELINE_SCOPES") or default_scopes(
        dict(prefetch_templates(state().knowledge))
    )
    return oauth.Client(
        client_id=config["TIMELINE_CLIENT_ID"],
        client_secret=config.get("TIMELINE_CLIENT_SECRET") or None,
        redirect_uri=_base_url() + "/timeline/callback",
        scope=" ".join(scope.split()),
    )


def _headers(response: WerkzeugResponse) -> WerkzeugResponse:
    ancestors = current_app.config.get("TIMELINE_FRAME_ANCESTORS") or "'none'"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        f"form-action 'none'; frame-ancestors {ancestors}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(template: str, status: int = 200, **context: Any) -> WerkzeugResponse:
    return _headers(Response(render_template(template, **context), status=status))


def _failure(error: TimelineError) -> WerkzeugResponse:
    log.warning("timeline failure", extra={"reason": error.reason})
    metrics.record_timeline_failure(error.reason)
    return _page("timeline_error.html", error.status, message=error.message,
                 reason=error.reason)


def _set_cookie(response: WerkzeugResponse, name: str, value: str, minutes: int) -> None:
    response.set_cookie(name, value, max_age=minutes * 60, path=COOKIE_PATH, secure=True,
                        httponly=True, samesite="Lax")


@bp.get("/timeline/launch")
def launch() -> WerkzeugResponse:
    launch_id, iss = request.args.get("launch", ""), request.args.get("iss", "")
    if not launch_id and not iss:
        metrics.record_timeline_failure("missing_launch")
        return _page("timeline_start.html", 400)
    try:
        if not launch_id or len(launch_id) > 512 or not launch_id.isprintable():
            raise TimelineError("invalid_launch", "The EHR's launch request has no valid "
                                "`launch` parameter. Launch the timeline again from the "
                                "patient's chart.")
        if not iss or len(iss) > 2048 or urlsplit(iss).query:
            raise TimelineError("invalid_iss", "The EHR's launch request has no valid `iss` "
                                "(FHIR server) parameter.")
        settings = FallbackSettings.from_config(current_app.config)
        if not settings.allowlist.allows_base(iss):
            raise TimelineError(
                "iss_not_allowed",
                "This EHR's FHIR server is not among the servers this service may read "
                "(MCAS_FHIR_ALLOWED_SERVERS), so the timeline cannot open. Ask the "
                "service's administrators to add it.",
                403,
            )
        client = _client()  # first: it needs the service's public address
        timeout = float(current_app.config["TIMELINE_HTTP_TIMEOUT"])
        with smart.http_session() as http:
            configuration = smart.discover(iss, http, timeout)
        state_value, browser = new_value(), new_value()
        code_verifier = oauth.new_code_verifier()
        minutes = int(current_app.config["TIMELINE_LAUNCH_MINUTES"])
        now = state().clock()
        _store().save_launch(state=state_value, browser=browser, iss=iss,
                             token_endpoint=configuration.token_endpoint,
                             code_verifier=code_verifier, now=now,
                             lifetime=timedelta(minutes=minutes))
        target = oauth.authorization_url(
            client, authorization_endpoint=configuration.authorization_endpoint,
            state=state_value, code_verifier=code_verifier, launch=launch_id, aud=iss,
        )
    except TimelineError as error:
        return _failure(error)
    metrics.record_timeline_launch()
    response = _headers(redirect(target, code=302))
    _set_cookie(response, LAUNCH_COOKIE, browser, minutes)
    return response


@bp.get("/timeline/callback")
def callback() -> WerkzeugResponse:
    now = state().clock()
    try:
        state_value = request.args.get("state", "")
        pending = _store().take_launch(state_value, now) if state_value else None
        if pending is None or not _store().browser_matches(
            pending, request.cookies.get(LAUNCH_COOKIE)
        ):
            raise TimelineError(
                "state_mismatch",
                "This answer from the authorization server does not belong to a launch "
                "begun in this browser (unknown, used or expired `state`). Launch the "
                "timeline again from the patient's chart.",
            )
        if request.args.get("error"):
            raise TimelineError(
                "authorization_denied",
                "The EHR's authorization server did not authorise the app "
                f"({_short_code(request.args['error'])}). Launch it again, or ask the EHR's "
                "administrators whether the app is registered for you.",
                403,
            )
        code = request.args.get("code", "")
        if not code:
            raise TimelineError("invalid_callback", "The authorization server's answer has "
                                "no authorization code. Launch the timeline again.")
        granted = oauth.exchange_code(
            _client(), token_endpoint=pending.token_endpoint, code=code,
            code_verifier=pending.code_verifier,
            timeout=float(current_app.config["TIMELINE_HTTP_TIMEOUT"]),
        )
        minutes = int(current_app.config["TIMELINE_SESSION_MINUTES"])
        expires = now + timedelta(minutes=minutes)
        if granted.expires_in is not None:
            expires = min(expires, now + timedelta(seconds=max(granted.expires_in, 0)))
        cookie = _store().create_session(iss=pending.iss, patient=granted.patient,
                                         access_token=granted.access_token, now=now,
                                         expires_at=expires)
        home = _base_url() + "/timeline/"
    except TimelineError as error:
        response = _failure(error)
        response.delete_cookie(LAUNCH_COOKIE, path=COOKIE_PATH)
        return response
    response = _headers(redirect(home, code=303))
    response.delete_cookie(LAUNCH_COOKIE, path=COOKIE_PATH, secure=True, httponly=True,
                           samesite="Lax")
    _set_cookie(response, SESSION_COOKIE, cookie, minutes)
    return response


def _short_code(error: str) -> str:
    """An OAuth error code as sent (RFC 6749 codes are short ASCII words), else 'error'."""
    return error if error.replace("_", "").isalpha() and len(error) <= 40 else "error"


@bp.get("/timeline/")
@bp.get("/timeline")
def picture() -> WerkzeugResponse:
    current = state()
    now = current.clock()
    try:
        session = _store().session(request.cookies.get(SESSION_COOKIE), now)
        if session is None:
            raise TimelineError(
                "session_expired",
                "There is no timeline session in this browser, or it has expired. Launch "
                "the timeline again from the patient's chart in the EHR.",
                401,
            )
        thresholds = current.thresholds()
        course = read_course(
            iss=session.iss, access_token=session.access_token, patient_id=session.patient,
            knowledge=current.knowledge, thresholds=thresholds, now=now,
            config=current_app.config,
            deadline=float(current_app.config["TIMELINE_FHIR_DEADLINE"]),
        )
    except TimelineError as error:
        return _failure(error)
    metrics.record_timeline_picture()
    svg = Markup(render_svg(course))  # noqa: S704 (our own SVG, text escaped by ElementTree)
    return _page("timeline.html", course=course, svg=svg, rows=rows(course),
                 tier_labels=TIER_LABELS)


@bp.errorhandler(SQLAlchemyError)
def _database_down(exc: SQLAlchemyError) -> WerkzeugResponse:
    return _failure(TimelineError(
        "database_unavailable",
        "The service's database is unavailable just now, so the timeline cannot keep a "
        "session. Try again in a minute.",
        503,
    ))


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> WerkzeugResponse | HTTPException:
    if isinstance(exc, HTTPException):
        return exc
    log.error("timeline: unexpected error", extra={"error": type(exc).__name__})
    return _failure(TimelineError(
        "internal_error", "Something went wrong in the timeline app. Try the launch again.", 500
    ))


@bp.after_request
def _static_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
