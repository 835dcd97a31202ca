"""Verification keys are built once per key (issue 18), never reused for other key material."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from service.auth.keys import JkuCache
from service.auth.trust import TrustedIssuer
from service.auth.verifier import InvalidToken, TokenVerifier
from tests.support.auth_helpers import BASE, DISCOVERY, ISSUER, NOW, Signer


def verifier(*keys: dict[str, Any]) -> TokenVerifier:
    return TokenVerifier(
        {ISSUER: TrustedIssuer(ISSUER, jwks=tuple(keys))},
        algorithms=frozenset({"ES384"}),
        leeway=30.0,
        jku_cache=JkuCache(timeout=1.0, max_age=60.0, min_refresh=1.0),
    )


def count_key_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    real = jwt.PyJWK

    def counting(jwk: dict[str, Any], algorithm: str | None = None) -> jwt.PyJWK:
        built.append(str(jwk.get("kid")))
        return real(jwk, algorithm=algorithm)

    monkeypatch.setattr(jwt, "PyJWK", counting)
    return built


def test_a_key_is_built_once_for_many_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = Signer()
    check = verifier(signer.public_jwk())
    built = count_key_builds(monkeypatch)
    jtis = {
        check.verify(f"Bearer {signer.token()}", BASE + DISCOVERY, NOW).jti for _ in range(5)
    }
    assert len(jtis) == 5
    assert built == [signer.kid]


def test_other_key_material_under_the_same_kid_is_not_served_from_the_cache() -> None:
    old, new = Signer(kid="rotating"), Signer(kid="rotating")
    first = verifier(old.public_jwk())
    assert first.verify(f"Bearer {old.token()}", BASE + DISCOVERY, NOW).iss == ISSUER
    # The same verifier object, its issuer now holding the new key under the same kid
    # (as a refetched jku set would): the old key must not verify, the new one must.
    first._issuers[ISSUER] = TrustedIssuer(ISSUER, jwks=(new.public_jwk(),))
    with pytest.raises(InvalidToken):
        first.verify(f"Bearer {old.token()}", BASE + DISCOVERY, NOW)
    assert first.verify(f"Bearer {new.token()}", BASE + DISCOVERY, NOW).iss == ISSUER


def test_a_refused_token_still_reports_what_it_claims() -> None:
    signer, stranger = Signer(), Signer()
    check = verifier(signer.public_jwk())
    forged = stranger.token(headers={"kid": signer.kid})
    with pytest.raises(InvalidToken) as refused:
        check.verify(f"Bearer {forged}", BASE + DISCOVERY, NOW)
    assert refused.value.claimed == {"iss": ISSUER, "aud": BASE + DISCOVERY}
