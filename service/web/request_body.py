"""Request bodies past ``MAX_CONTENT_LENGTH`` are a 413, however they are sent.

With a ``Content-Length`` header werkzeug refuses an oversized body before reading it.
A chunked body has no length up front: werkzeug reads it only up to the cap and stops,
so a longer body was silently cut short (a 400 for the broken JSON, or a 200 when only
trailing whitespace was cut). Here, a streamed body that reaches the cap is checked for
one byte more; if there is one, the request is a 413.

``read_body`` reads a body of known length in one call to the server's stream, so the
server (gunicorn) receives it in its own large steps; werkzeug's ``get_data`` asks for
64 KiB at a time, and each of those reads made gunicorn copy what it had received ahead
(issue 18: a 5 MB chart was read in about 80 steps).
"""

from __future__ import annotations

from typing import IO, cast

from flask import Flask, Request, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


class _CappedStream(LimitedStream):
    """A streamed body read up to ``limit`` bytes; one byte more is a 413."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit, is_max=True)

    def on_exhausted(self) -> None:
        # Called when reading past the cap: only a body that really goes on is too large.
        if self._stream.read(1):
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:  # stopped at the cap: is there more?
            self.on_exhausted()
        return data


class CappedRequest(Request):
    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if (
            limit is not None
            and self.content_length is None
            and "wsgi.input_terminated" in self.environ  # a chunked body the server ends
            and not self.shallow
        ):
            return cast(IO[bytes], _CappedStream(self.environ["wsgi.input"], limit))
        return super().stream  # werkzeug's own checks


def init_app(app: Flask) -> None:
    app.request_class = CappedRequest


# Below this, one read is what get_data does anyway.
_ONE_READ_FROM = 64 * 1024


def read_body() -> bytes:
    """The current request's whole body (413 past the cap, 400 when the client stops)."""
    length = request.content_length
    if length is None or length < _ONE_READ_FROM:
        return request.get_data(cache=False)
    stream = request.stream  # werkzeug's: 413 when the length is past the cap
    parts: list[bytes] = []
    remaining = length
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:  # werkzeug raises ClientDisconnected first; this is a safeguard
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)
