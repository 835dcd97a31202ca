"""Flask side of authentication: which routes, what answer, when a `jti` counts as used."""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
from pathlib import Path

from flask import Flask, Response, current_app, g, request

from service.auth import audience
from service.auth.keys import JkuCache
from service.auth.rejections import rejection_code
from service.auth.replay import (
    FailoverReplayCache,
    MemoryReplayCache,
    ReplayCache,
    SqliteReplayCache,
)
from service.auth.trust import TrustConfigError, load_trust_file
from service.auth.verifier import ENABLEABLE_ALGORITHMS, InvalidToken, TokenVerifier
from service.ops import health, metrics
from service.ops.state import state
from service.settings import parse_list
from service.storage.database import data_dir
from service.storage.replay_jti import DatabaseReplayCache
from service.web import storage as web_storage
from service.web.errors import outcome_response

log = logging.getLogger(__name__)

EXTENSION_KEY = "mcas_auth"
PROTECTED_PREFIX = "/cds-services"
# One answer for every failure: which check failed is for the log, not for the caller.
INVALID_TOKEN_MESSAGE = "The bearer token is missing or invalid."  # noqa: S105 (not a secret)
# Headers a reverse proxy adds: in local-testing mode they mean the loopback address we
# see is the proxy's, not the client's.
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


class _Auth:
    def __init__(self, verifier: TokenVerifier | None, replay: ReplayCache | None) -> None:
        self.verifier = verifier
        self.replay = replay


def init_app(app: Flask) -> None:
    if app.config["AUTH_DISABLED"]:
        app.extensions[EXTENSION_KEY] = _Auth(None, None)
        app.before_request(_local_testing_check)
        _warn_local_testing()
        return
    app.extensions[EXTENSION_KEY] = _Auth(_build_verifier(app), _build_replay_cache(app))
    health.register_check(app, "audience", _audience_configured)
    app.before_request(_verify_request)
    app.after_request(_settle_jti)
    app.teardown_request(_release_unsettled_jti)


NO_TRUST_MESSAGE = (
    "MCAS_TRUST_FILE is not set: JWT verification is on and no CDS client is trusted, so "
    "every call under /cds-services gets 401 and /readyz fails. Point it at a trust file "
    "(docs/security.md), or set MCAS_AUTH_DISABLED=true for local testing only."
)


def _no_client_trusted() -> None:
    raise health.NotReady("no CDS client is trusted: MCAS_TRUST_FILE is not set")


def _audience_configured() -> None:
    if not current_app.config.get("PUBLIC_BASE_URL") and not _allowed_hosts():
        raise health.NotReady(f"no token can be accepted: {audience.NOT_CONFIGURED}")


def _warn_local_testing() -> None:
    log.warning(
        "JWT verification is OFF (MCAS_AUTH_DISABLED=true): local testing only; "
        "only loopback clients are answered. Never run a deployment like this."
    )


def _build_verifier(app: Flask) -> TokenVerifier:
    trust_file = app.config.get("TRUST_FILE")
    if trust_file:
        issuers = load_trust_file(Path(trust_file))
    else:
        # Secure and still startable (`flask --app service run` works): nobody is
        # trusted, every call gets 401, and /readyz says why so no traffic is routed here.
        issuers = {}
        log.error(NO_TRUST_MESSAGE)
        health.register_check(app, "trust", _no_client_trusted)
    raw_algorithms = app.config["JWT_ALGORITHMS"]
    algorithms = frozenset(
        parse_list(raw_algorithms) if isinstance(raw_algorithms, str) else raw_algorithms
    )
    refused = algorithms - ENABLEABLE_ALGORITHMS
    if refused or not algorithms:
        raise TrustConfigError(
            f"MCAS_JWT_ALGORITHMS: {sorted(refused) or 'empty'} not allowed; choose from "
            f"{sorted(ENABLEABLE_ALGORITHMS)} (never none or HS*)"
        )
    leeway = float(app.config["JWT_LEEWAY_SECONDS"])
    if not 0 <= leeway <= 300:
        raise TrustConfigError("MCAS_JWT_LEEWAY_SECONDS must be between 0 and 300")
    max_lifetime = float(app.config["JWT_MAX_LIFETIME_SECONDS"])
    if not 1 <= max_lifetime <= 86400:
        raise TrustConfigError("MCAS_JWT_MAX_LIFETIME_SECONDS must be between 1 and 86400")
    jku_cache = JkuCache(
        timeout=float(app.config["JKU_FETCH_TIMEOUT_SECONDS"]),
        max_age=float(app.config["JKU_CACHE_SECONDS"]),
        min_refresh=float(app.config["JKU_MIN_REFRESH_SECONDS"]),
    )
    return TokenVerifier(
        issuers,
        algorithms=algorithms,
        leeway=leeway,
        jku_cache=jku_cache,
        max_lifetime=max_lifetime,
    )


def _build_replay_cache(app: Flask) -> ReplayCache:
    local = _host_replay_cache(app)
    store = app.extensions[web_storage.EXTENSION_KEY]
    mode = str(app.config.get("REPLAY_CACHE_SHARED") or "auto").lower()
    if mode == "off" or (mode == "auto" and store.backend != "postgresql"):
        return local
    # Every replica claims in the shared database (issue 17); this host's cache stands in
    # during an outage, or the request is refused: docs/security.md.
    on_outage = str(app.config.get("REPLAY_CACHE_ON_OUTAGE") or "local").lower()
    if on_outage == "refuse":
        # Then no hook is answered without the database: it blocks hooks (readiness).
        health.registry(app).mark_blocking("database")
    return FailoverReplayCache(
        DatabaseReplayCache(store),
        local,
        on_outage=on_outage,
        report=metrics.record_replay_cache_outage,
    )


def _host_replay_cache(app: Flask) -> ReplayCache:
    where = app.config.get("REPLAY_CACHE") or str(
        data_dir(app.config, app.instance_path) / "replay-cache.sqlite3"
    )
    if where == "memory":
        return MemoryReplayCache()
    try:
        return SqliteReplayCache(Path(where))
    except (OSError, sqlite3.Error) as exc:
        raise TrustConfigError(
            f"MCAS_REPLAY_CACHE: cannot use {where} ({type(exc).__name__}: {exc})"
        ) from None


def _is_protected(path: str) -> bool:
    return path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")


def _is_preflight() -> bool:
    return request.method == "OPTIONS"


def _allowed_hosts() -> list[str]:
    raw = current_app.config.get("ALLOWED_HOSTS") or []
    return audience.parse_allowed_hosts(raw) if isinstance(raw, str) else list(raw)


def expected_audience() -> str:
    """The exact URL called, as the client saw it (spec: `aud` is the endpoint URL).

    From MCAS_PUBLIC_BASE_URL, else from the Host when MCAS_ALLOWED_HOSTS lists it;
    raises ``AudienceUnknown`` otherwise (service/auth/audience.py).
    """
    return audience.expected_audience(
        public_base_url=current_app.config.get("PUBLIC_BASE_URL"),
        allowed_hosts=_allowed_hosts(),
        scheme=request.scheme,
        host=request.host,
        script_root=request.script_root,
        path=request.path,
    )


def _refuse(reason: str) -> Response:
    log.warning("client token rejected", extra={"reason": reason})
    g.auth_failure = reason
    metrics.record_token_rejection(rejection_code(reason))
    return _unauthorized()


def _unauthorized() -> Response:
    response = outcome_response(401, INVALID_TOKEN_MESSAGE)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _verify_request() -> Response | None:
    if not _is_protected(request.path) or _is_preflight():
        return None
    auth: _Auth = current_app.extensions[EXTENSION_KEY]
    if auth.verifier is None or auth.replay is None:  # cannot happen: installed together
        raise RuntimeError("authentication is not installed")
    now = state().clock().timestamp()
    try:
        expected = expected_audience()
    except audience.AudienceUnknown as exc:
        return _refuse(exc.reason)
    try:
        token = auth.verifier.verify(request.headers.get("Authorization"), expected, now)
    except InvalidToken as exc:
        return _refuse(exc.reason)
    key = f"{token.iss}\x1f{token.jti}"
    leeway = float(current_app.config["JWT_LEEWAY_SECONDS"])
    if not auth.replay.claim(key, token.exp + leeway, now):
        return _refuse("jti already used")
    g.jti_claim = key
    g.client_iss = token.iss
    return None


def _settle_jti(response: Response) -> Response:
    key = g.pop("jti_claim", None)
    if key is not None:
        replay = current_app.extensions[EXTENSION_KEY].replay
        # Only a success uses the token up: an EHR may retry after a 503 with the same one.
        if 200 <= response.status_code < 300:
            replay.confirm(key)
        else:
            replay.release(key)
    return response


def _release_unsettled_jti(_exc: BaseException | None) -> None:
    key = g.pop("jti_claim", None)
    if key is not None:
        current_app.extensions[EXTENSION_KEY].replay.release(key)


def _local_testing_check() -> Response | None:
    if not _is_protected(request.path) or _is_preflight():
        return None
    if any(name in request.headers for name in _PROXY_HEADERS) or not _is_loopback(
        request.remote_addr
    ):
        log.warning("non-loopback client refused in local-testing mode")
        return outcome_response(
            403, "Authentication is off for local testing: only loopback clients are answered."
        )
    return None


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
