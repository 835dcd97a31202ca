"""JSON-line logs: one object per line, and one line per answered request.

Only an allowlist of fields leaves the process (hookInstance, route, status, duration,
card topics, the reason a token was refused, the prefetch key a fallback missed, ...):
never a token, a name, a patient identifier or a request body, whatever a caller puts in
``extra``. Exceptions are logged
by type and stack frames, without their message, because messages can quote input.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

# Fields a log call may add through ``extra``; anything else is dropped.
ALLOWED_FIELDS = (
    "hookInstance",
    "route",
    "method",
    "status",
    "duration_ms",
    "topics",
    "reason",
    "iss",
    "error_type",
    # A prefetch key is a name from cards/ ("conditions"), never patient data: without it
    # an operator cannot tell which data the FHIR fallback failed to get (issue 17).
    "prefetch_key",
    # A refused token's claimed issuer and audience and the audience expected: what fixes
    # a misconfigured client or setting (issue 17). URLs, never the token.
    "token_iss",
    "token_aud",
    "expected_aud",
    # The administrators' audit lines (issue 16): what was done and by whom (the name the
    # administrator gave, never a token), never what was asked or answered.
    "audit",
    "admin",
)
_HANDLER_MARK = "_mcas_json_lines"
_quiet: ContextVar[bool] = ContextVar("mcas_quiet_logs", default=False)


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Below ERROR, drop this context's lines: the thresholds preview runs 266 scenarios,
    many with deliberately malformed resources, and must not flood the service's log
    with warnings that read like an EHR's problems."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


class _UnlessQuiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not _quiet.get()


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ALLOWED_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
            line["stack"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(line, ensure_ascii=False, default=str)


def init_app(app: Flask) -> None:
    """The package's loggers ("service.*", Flask's app.logger) write JSON lines to stderr."""
    logger = logging.getLogger("service")
    for handler in list(logger.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(_UnlessQuiet())
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    logger.setLevel(str(app.config["LOG_LEVEL"]).upper())
    # Records still propagate: flask run and gunicorn leave the root logger without
    # handlers (so no line is printed twice), and tests or a host may collect them there.
    logger.propagate = True

    app.before_request(_start_timer)
    app.after_request(_log_request)


_request_log = logging.getLogger("service.request")


def _start_timer() -> None:
    g.request_started = time.perf_counter()


# Probes and scrapes come every few seconds from the platform: log them only when they fail.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def _log_request(response: Response) -> Response:
    rule = request.url_rule
    if rule is not None and rule.rule in _QUIET_ROUTES and response.status_code < 400:
        return response
    started = g.get("request_started")
    fields: dict[str, Any] = {
        # The rule, not the raw path: a path is caller input and can be anything.
        "route": request.url_rule.rule if request.url_rule is not None else "(no route)",
        "method": request.method,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
    }
    hook_instance = g.get("hook_instance")
    if hook_instance is not None:
        fields["hookInstance"] = str(hook_instance)
    topics = g.get("card_topics")
    if topics is not None:
        fields["topics"] = list(topics)
    if "client_iss" in g:
        fields["iss"] = g.client_iss  # which trusted client called: not a secret
    if "cors_refusal" in g:
        fields["reason"] = g.cors_refusal
    if "auth_failure" in g:
        fields["reason"] = g.auth_failure
        fields.update(g.get("auth_failure_details") or {})
    _request_log.info("request answered", extra=fields)
    return response
