"""The token's header and payload are read once, unverified, to choose the issuer and key
(issue 18); a malformed token is still a refusal counted as malformed, and what was read
unverified is never what is trusted."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from service.auth.keys import JkuCache
from service.auth.rejections import rejection_code
from service.auth.trust import TrustedIssuer
from service.auth.verifier import InvalidToken, TokenVerifier
from tests.support.auth_helpers import BASE, DISCOVERY, ISSUER, NOW, Signer


def _verifier(*keys: dict[str, Any]) -> TokenVerifier:
    return TokenVerifier(
        {ISSUER: TrustedIssuer(ISSUER, jwks=tuple(keys))},
        algorithms=frozenset({"ES384"}),
        leeway=30.0,
        jku_cache=JkuCache(timeout=1.0, max_age=60.0, min_refresh=1.0),
    )


def _segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_good_token_still_verifies() -> None:
    signer = Signer()
    token = _verifier(signer.public_jwk()).verify(
        f"Bearer {signer.token()}", BASE + DISCOVERY, NOW)
    assert token.iss == ISSUER and token.jti


@pytest.mark.parametrize("token", [
    "abc",
    "abc.def",
    "a.b.c.d",
    "!!!.e30.sig",
    f"{_segment(b'not json')}.e30.sig",
    f"{_segment([1, 2])}.e30.sig",
    f"{_segment({'alg': 'ES384', 'kid': 'k'})}.{_segment(b'{')}.sig",
    f"{_segment({'alg': 'ES384', 'kid': 'k'})}.{_segment([ISSUER])}.sig",
    _segment(bytes([0xFF, 0xFE])) + ".e30.sig",
])
def test_malformed_tokens_are_refused_as_malformed(token: str) -> None:
    signer = Signer()
    with pytest.raises(InvalidToken) as refused:
        _verifier(signer.public_jwk()).verify(f"Bearer {token}", BASE + DISCOVERY, NOW)
    assert rejection_code(refused.value.reason) == "malformed", refused.value.reason


def test_a_header_changed_after_signing_fails_the_signature() -> None:
    """The unverified read chose the key; the signature still covers the header read."""
    signer = Signer()
    header, payload, signature = signer.token().split(".")
    changed = json.loads(base64.urlsafe_b64decode(header + "=="))
    changed["typ"] = "jwt"
    forged = f"{_segment(changed)}.{payload}.{signature}"
    with pytest.raises(InvalidToken) as refused:
        _verifier(signer.public_jwk()).verify(f"Bearer {forged}", BASE + DISCOVERY, NOW)
    assert rejection_code(refused.value.reason) == "bad_signature", refused.value.reason
