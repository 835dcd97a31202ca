"""The administrator credential: a bearer token, distinct from the EHR's JWT.

Its setting (``MCAS_ADMIN_TOKEN``) and its constant-time check; the web layer's guard
(service/web/admin_auth.py) answers 503 without a token and 401 for a wrong one. The
token is never logged.
"""

from __future__ import annotations

import hmac

from service.settings import Setting

MIN_TOKEN_LENGTH = 32

def _parse_token(raw: str) -> str:
    token = raw.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"must be at least {MIN_TOKEN_LENGTH} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return token


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "ADMIN_TOKEN",
        None,
        _parse_token,
        "Bearer token of administrators (`Authorization: Bearer <token>`), at least 32 "
        "characters. Not the EHR's JWT. Unset: administrator endpoints answer 503.",
    ),
)


def admin_token_matches(authorization: str | None, expected: str) -> bool:
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    return hmac.compare_digest(presented.strip().encode("utf-8"), expected.encode("utf-8"))
