"""CORS for browser-based CDS clients (CDS Hooks 2.0 req 208), by origin allowlist.

Preflights (`OPTIONS` with `Access-Control-Request-Method`) under /cds-services are
answered 204 here, before authentication: browsers never send credentials on them.
An origin not on the list gets no CORS headers at all, so the browser keeps the answer
from the page.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from service.settings import Setting, parse_list

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


def _allowed_origin() -> str | None:
    if not (request.path == PROTECTED_PREFIX or request.path.startswith(PROTECTED_PREFIX + "/")):
        return None
    origin = request.headers.get("Origin")
    origins: frozenset[str] = current_app.extensions["mcas_cors"]
    if origin and (origin in origins or "*" in origins):
        return origin
    return None


def _answer_preflight() -> Response | None:
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    if not (request.path == PROTECTED_PREFIX or request.path.startswith(PROTECTED_PREFIX + "/")):
        return None
    response = Response(status=204)
    del response.headers["Content-Type"]  # no body, so no type
    origin = _allowed_origin()
    if origin is not None:
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
    if current_app.extensions["mcas_cors"]:
        # Caches must not hand one origin's answer to another.
        response.vary.add("Origin")
    return response
