"""Keys derived from MCAS_SECRET_KEY: lookup HMACs and authenticated encryption.

A stored row is found by the HMAC of the browser's value (cookie or ``state``), so reading
the database yields no value a browser could present. What must be read back (the access
token, the PKCE verifier, the patient id) is encrypted with Fernet (AES-CBC + HMAC, from
``cryptography``) under a key derived from the same secret; every replica shares it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

MIN_SECRET_LENGTH = 32


class SecretBox:
    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"MCAS_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
        raw = secret.encode("utf-8")
        self._lookup = hmac.new(raw, b"mcas-timeline lookup", hashlib.sha256).digest()
        encryption = hmac.new(raw, b"mcas-timeline encryption", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(encryption))

    def lookup_key(self, value: str) -> str:
        return hmac.new(self._lookup, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data).encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> dict[str, Any] | None:
        """The data, or None when it was sealed under another secret or altered."""
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError):
            return None
        return data if isinstance(data, dict) else None
