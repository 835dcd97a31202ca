"""CORS for browser-based CDS clients (CDS Hooks 2.0 req 208), by origin allowlist.

Preflights (`OPTIONS` with `Access-Control-Request-Method`) under /cds-services are
answered here, before authentication: browsers never send credentials on them. An
allowed origin gets 204 with the CORS headers; any other gets 403 without them, so the
browser keeps the call from the page. Refusals are logged ("CORS request refused", with
the origin) and counted (``mcas_cors_refusals_total``): a refused browser client is a
configuration problem an operator must be able to see, not a plain 204 (issue 17). A
call (not a preflight) from an origin off the list is answered as usual, without CORS
headers, and logged and counted the same way.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, request

from service.ops import metrics
from service.settings import Setting, parse_list
from service.web.errors import outcome_response

log = logging.getLogger(__name__)

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "CORS_ORIGINS",
        "",
        parse_list,
        "Origins of browser-based CDS clients allowed to call the service, comma-separated, "
        "exact (scheme://host:port), e.g. `http://127.0.0.1:8080` for a locally served CDS "
        "Hooks Sandbox. `*` allows any origin. Default: none (no CORS headers).",
    ),
)

PROTECTED_PREFIX = "/cds-services"
ALLOWED_METHODS = "GET, POST, OPTIONS"
# Request headers a CDS client needs; anything else a preflight asks for is not granted.
ALLOWED_REQUEST_HEADERS = frozenset({"authorization", "content-type", "accept"})
MAX_AGE_SECONDS = 600


def init_app(app: Flask) -> None:
    raw = app.config["CORS_ORIGINS"]
    origins = frozenset(parse_list(raw) if isinstance(raw, str) else raw)
    app.extensions["mcas_cors"] = origins
    app.before_request(_answer_preflight)
    app.after_request(_add_origin)


def _is_cross_origin_call() -> bool:
    """A browser's call (it sent Origin) under /cds-services, not a refused preflight."""
    return (
        "Origin" in request.headers
        and "cors_refusal" not in g
        and (request.path == PROTECTED_PREFIX or request.path.startswith(PROTECTED_PREFIX + "/"))
    )


def _allowed_origin() -> str | None:
    if not (request.path == PROTECTED_PREFIX or request.path.startswith(PROTECTED_PREFIX + "/")):
        return None
    origin = request.headers.get("Origin")
    origins: frozenset[str] = current_app.extensions["mcas_cors"]
    if origin and (origin in origins or "*" in origins):
        return origin
    return None


def _refuse(kind: str) -> None:
    origin = (request.headers.get("Origin") or "(none)")[:100]
    origins: frozenset[str] = current_app.extensions["mcas_cors"]
    reason = (
        f"origin {origin!r} is not in MCAS_CORS_ORIGINS"
        if origins
        else f"origin {origin!r} refused: MCAS_CORS_ORIGINS is empty (no browser clients)"
    )
    g.cors_refusal = reason
    metrics.record_cors_refusal(kind)
    log.warning("CORS request refused", extra={"reason": reason})


def _answer_preflight() -> Response | None:
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    if not (request.path == PROTECTED_PREFIX or request.path.startswith(PROTECTED_PREFIX + "/")):
        return None
    origin = _allowed_origin()
    if origin is None:
        _refuse("preflight")
        return outcome_response(403, "CORS preflight refused: this origin is not allowed.")
    response = Response(status=204)
    del response.headers["Content-Type"]  # no body, so no type
    requested = request.headers.get("Access-Control-Request-Headers", "")
    granted = [
        name.strip()
        for name in requested.split(",")
        if name.strip().lower() in ALLOWED_REQUEST_HEADERS
    ]
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    if granted:
        response.headers["Access-Control-Allow-Headers"] = ",".join(granted)
    response.headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    return response


def _add_origin(response: Response) -> Response:
    origin = _allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
    elif _is_cross_origin_call():
        _refuse("request")
    if current_app.extensions["mcas_cors"]:
        # Caches must not hand one origin's answer to another.
        response.vary.add("Origin")
    return response
