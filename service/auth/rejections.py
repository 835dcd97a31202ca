"""A refused token's reason as a short fixed code, for the rejection metric's label.

Reasons in the log are sentences that can hold a URL or a library's message; a metric
label must come from a small fixed set, or each new text would become a new series.
"""

from __future__ import annotations

import re

# First match wins: the more specific patterns come first.
_CODES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        ("not_configured", r"neither MCAS_PUBLIC_BASE_URL nor MCAS_ALLOWED_HOSTS"),
        ("host_not_allowed", r"not in MCAS_ALLOWED_HOSTS"),
        ("missing", r"^no Authorization header"),
        ("lifetime_too_long", r"lifetime too long"),
        ("not_bearer", r"not a Bearer token"),
        ("replayed", r"jti already used"),
        ("expired", r"expired"),
        ("not_yet_valid", r"iat is in the future|not valid yet|ImmatureSignature"),
        ("untrusted_issuer", r"issuer is not trusted|InvalidIssuer"),
        ("jku_not_allowed", r"jku"),
        ("unknown_key", r"kid not in|no kid"),
        ("key_set_unavailable", r"fetching .*(failed|answered)|key set at .* is"),
        ("wrong_audience", r"audience"),
        ("bad_signature", r"signature"),
        ("algorithm", r"\balg|algorithm"),
        ("tenant", r"tenant"),
        ("missing_claim", r"MissingRequiredClaim|jti is not"),
    )
)

REJECTION_CODES = (*(code for code, _ in _CODES), "malformed")


def rejection_code(reason: str) -> str:
    for code, pattern in _CODES:
        if pattern.search(reason):
            return code
    return "malformed"
