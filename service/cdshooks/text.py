"""Text a client sends that the service stores, hashes or sends on: checked before use.

JSON may carry characters no database column or HTTP header can hold: NUL (PostgreSQL
``text`` refuses it; SQLite would store it) and unpaired surrogates (``"\\ud800"``, not
Unicode text at all: no UTF-8 encoder accepts one). Such a string is a 400 naming its
field, on every database alike, rather than a 500, or a 503 that an EHR would retry
forever (docs/storage.md, "Text the service refuses").
"""

from __future__ import annotations

import re

from marshmallow import ValidationError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_VISIBLE_ASCII = re.compile("[\x21-\x7e]+")

UNSTORABLE_MESSAGE = "Must not contain NUL characters or unpaired surrogates."


def storable(value: str) -> None:
    """marshmallow validator: no NUL, no unpaired surrogate."""
    if _UNSTORABLE.search(value):
        raise ValidationError(UNSTORABLE_MESSAGE)


def visible_ascii(value: str) -> None:
    """marshmallow validator for a credential sent on in an HTTP header (RFC 6750)."""
    if not _VISIBLE_ASCII.fullmatch(value):
        raise ValidationError("Must be visible ASCII characters only, without spaces.")
