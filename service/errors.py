"""Errors answered as FHIR OperationOutcome JSON, never as HTML or a stack trace.

Messages say what is wrong with the request, never what it contained: no values from the
body are echoed, so no patient data can leak through an error.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# FHIR IssueType codes for the statuses we answer.
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    412: "incomplete",
    413: "too-costly",
    415: "not-supported",
    500: "exception",
    503: "transient",
}


def operation_outcome(
    status: int, messages: list[str] | str, *, severity: str = "error"
) -> dict[str, Any]:
    if isinstance(messages, str):
        messages = [messages]
    code = _ISSUE_CODES.get(status, "processing")
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": severity, "code": code, "diagnostics": message} for message in messages
        ],
    }


def outcome_response(status: int, messages: list[str] | str) -> Response:
    return Response(
        json.dumps(operation_outcome(status, messages)),
        status=status,
        mimetype="application/json",
    )


class ServiceError(Exception):
    """An error with a status and messages safe to show to the caller."""

    status = 400

    def __init__(self, messages: list[str] | str, *, status: int | None = None) -> None:
        super().__init__(messages)
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        if status is not None:
            self.status = status


class BadRequest(ServiceError):
    status = 400


class PreconditionFailed(ServiceError):
    """Required data could be had neither from the prefetch nor from the FHIR server."""

    status = 412


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        return outcome_response(exc.status, exc.messages)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = outcome_response(status, exc.description or exc.name)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The traceback goes to the log (it carries code paths, not request data);
        # the caller only learns that it was our fault.
        log.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return outcome_response(500, "Internal error in the CDS service.")
