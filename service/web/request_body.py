"""Request bodies past ``MAX_CONTENT_LENGTH`` are a 413, however they are sent.

With a ``Content-Length`` header werkzeug refuses an oversized body before reading it.
A chunked body has no length up front: werkzeug reads it only up to the cap and stops,
so a longer body was silently cut short (a 400 for the broken JSON, or a 200 when only
trailing whitespace was cut). Here, a streamed body that reaches the cap is checked for
one byte more; if there is one, the request is a 413.
"""

from __future__ import annotations

from typing import IO, cast

from flask import Flask, Request
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
