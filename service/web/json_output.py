"""JSON answers that always encode: text the client sent may be quoted back in them.

An error may name a member the client sent (an unknown field), and JSON allows an
unpaired surrogate escape (``"\\ud800"``) that Python decodes into a str no UTF-8 encoder
accepts. Such a character is written back as its JSON escape instead of failing the
answer (a 500 from the error handler itself). Everything else is as Flask writes it:
UTF-8, keys in their order.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider


class JSONProvider(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(obj, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # an unpaired surrogate: only inside a JSON string
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        return text


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)
