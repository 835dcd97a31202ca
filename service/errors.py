"""The service's one exception hierarchy: what went wrong, and the HTTP status it maps to.

Every error a caller may see is a ``ServiceError``. The web layer turns each into a FHIR
OperationOutcome (``service/web/errors.py``, one handler for all); nothing else builds
error responses. Messages say what is wrong with the request, never what it contained:
no values from the body are echoed, so no patient data can leak through an error.

| class                  | status | when                                                    |
|------------------------|--------|---------------------------------------------------------|
| ``BadRequest``         | 400    | the request (envelope, feedback, admin input) is invalid |
| ``Unauthorized``       | 401    | a credential is missing or refused                       |
| ``NotFound``           | 404    | a named thing (service id, version) does not exist       |
| ``PreconditionFailed`` | 412    | required data: neither prefetched nor fetchable          |
| ``StorageUnavailable`` | 503    | the database cannot take the read or write just now;     |
|                        |        | answered with ``Retry-After``                            |
| ``NotConfigured``      | 503    | a feature is off until an operator configures it         |

This module imports nothing from Flask: the pure core raises these, the web layer maps them.
"""

from __future__ import annotations

from collections.abc import Sequence

RETRY_AFTER_SECONDS = 5


class ServiceError(Exception):
    """An error with a status and messages safe to show to the caller.

    ``fields`` optionally names, per message, the request element at fault (FHIRPath-like
    dotted path); it becomes the OperationOutcome issue's ``expression``.
    """

    status = 400
    retry_after: int | None = None

    def __init__(
        self,
        messages: Sequence[str] | str,
        *,
        status: int | None = None,
        fields: Sequence[str | None] | None = None,
    ) -> None:
        super().__init__(messages)
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.fields: list[str | None] = list(fields) if fields is not None else []
        if status is not None:
            self.status = status


class BadRequest(ServiceError):
    status = 400


class Unauthorized(ServiceError):
    status = 401


class NotFound(ServiceError):
    status = 404


class PreconditionFailed(ServiceError):
    """Required data could be had neither from the prefetch nor from the FHIR server."""

    status = 412


class StorageUnavailable(ServiceError):
    """The database could not serve the call; the caller should retry (``Retry-After``).

    ``operation`` names the failed operation for ``mcas_storage_failures_total`` (None: not
    counted there).
    """

    status = 503
    retry_after = RETRY_AFTER_SECONDS

    def __init__(self, messages: Sequence[str] | str, *, operation: str | None = None) -> None:
        super().__init__(messages)
        self.operation = operation


class NotConfigured(ServiceError):
    """A feature an operator has not switched on (e.g. administration without a token)."""

    status = 503
