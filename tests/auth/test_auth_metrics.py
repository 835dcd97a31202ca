"""Refused tokens are counted by a short fixed reason code, never by the logged sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from service.auth.rejections import REJECTION_CODES, rejection_code
from tests.support.auth_helpers import (
    BASE,
    DISCOVERY,
    ISSUER,
    NOW,
    Signer,
    auth_app,
    bearer,
    write_json,
)


def rejected(code: str) -> float:
    return REGISTRY.get_sample_value("mcas_token_rejections_total", {"reason": code}) or 0.0


def test_each_real_rejection_is_counted_under_its_code(tmp_path: Path) -> None:
    signer = Signer("ES384")
    jwks = write_json(tmp_path / "ehr-jwks.json", signer.jwks())
    client = auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}]).test_client()
    replayed = signer.token()
    cases = {
        "missing": {},
        "not_bearer": {"Authorization": f"Basic {signer.token()}"},
        "malformed": bearer("not-a-jwt"),
        "expired": bearer(signer.token(now=NOW - 400)),
        "not_yet_valid": bearer(signer.token(now=NOW + 60)),
        "wrong_audience": bearer(signer.token(base="https://elsewhere.example.org")),
        "untrusted_issuer": bearer(signer.token(iss="https://evil.example.com")),
        "unknown_key": bearer(Signer("ES384").token()),
        "bad_signature": bearer(Signer("ES384", kid=signer.kid).token()),
    }
    for code, headers in cases.items():
        before = rejected(code)
        response = client.get(DISCOVERY, base_url=BASE, headers=headers)
        assert response.status_code == 401, code
        assert rejected(code) == before + 1, code

    assert client.get(DISCOVERY, base_url=BASE, headers=bearer(replayed)).status_code == 200
    before = rejected("replayed")
    assert client.get(DISCOVERY, base_url=BASE, headers=bearer(replayed)).status_code == 401
    assert rejected("replayed") == before + 1


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("jku is not on the issuer's allowlist", "jku_not_allowed"),
        ("issuer is configured by jku allowlist but the token has no jku", "jku_not_allowed"),
        ("kid not in the key set fetched from https://ehr.example.org/jwks", "unknown_key"),
        ("fetching https://ehr.example.org/jwks failed (ConnectTimeout)", "key_set_unavailable"),
        ("algorithm 'none' is not accepted", "algorithm"),
        ("the key's alg differs from the token's alg", "algorithm"),
        ("tenant is not on the issuer's allowlist", "tenant"),
        ("MissingRequiredClaimError: Token is missing the \"jti\" claim", "missing_claim"),
        ("unusable token structure (TypeError)", "malformed"),
    ],
)
def test_reasons_map_to_a_fixed_set_of_codes(reason: str, code: str) -> None:
    assert rejection_code(reason) == code
    assert code in REJECTION_CODES
