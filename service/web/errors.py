"""Every error answered as a FHIR OperationOutcome, never as HTML or a stack trace.

One handler per kind: ``ServiceError`` (the hierarchy of ``service/errors.py``, each class
with its status), a database that cannot serve the call (503 with ``Retry-After``,
written here once), werkzeug's HTTP errors, and anything unexpected (500, logged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import Flask, Response, json
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from service.cdshooks.outcome import operation_outcome
from service.errors import ServiceError, StorageUnavailable
from service.ops import metrics

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable just now; retry later."


def outcome_response(
    status: int, messages: Sequence[str] | str, *, fields: Sequence[str | None] = ()
) -> Response:
    return Response(
        json.dumps(operation_outcome(status, messages, fields=fields)),
        status=status,
        mimetype="application/json",
    )


def error_response(exc: ServiceError) -> Response:
    response = outcome_response(exc.status, exc.messages, fields=exc.fields)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _service_error(exc: ServiceError) -> Response:
    if isinstance(exc, StorageUnavailable):
        cause = exc.__cause__
        log.error(
            "storage unavailable: %s",
            type(getattr(cause, "orig", None) or cause or exc).__name__,
        )
        if exc.operation:
            metrics.record_storage_failure(exc.operation)
    return error_response(exc)


def _database_error(exc: SQLAlchemyError) -> Response:
    # A database error no caller translated: the database cannot serve the call just now.
    unavailable = StorageUnavailable(DATABASE_UNAVAILABLE)
    unavailable.__cause__ = exc
    return _service_error(unavailable)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    response = outcome_response(status, exc.description or exc.name)
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def _unexpected(exc: Exception) -> Response:
    # The traceback goes to the log (it carries code paths, not request data);
    # the caller only learns that it was our fault.
    log.exception("unhandled error", extra={"error_type": type(exc).__name__})
    return outcome_response(500, "Internal error in the CDS service.")


def init_app(app: Flask) -> None:
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
