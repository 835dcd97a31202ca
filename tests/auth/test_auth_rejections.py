"""Every way a token is refused: 401, one fixed message, `WWW-Authenticate: Bearer`.

Spec: 176 (signed JWT required), 195 (iss/jku allowlist), 201 (never `none`), 203 (never
a symmetric algorithm), 205 (ES384/RS384). Every token here is signed with a key made in
the test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient

from tests.support.auth_helpers import (
    BASE,
    DISCOVERY,
    ISSUER,
    NOW,
    SERVICE,
    Signer,
    auth_app,
    bearer,
    frozen,
    write_json,
)

INVALID = "The bearer token is missing or invalid."


@pytest.fixture
def signer() -> Signer:
    return Signer("ES384")


@pytest.fixture
def app(tmp_path: Path, signer: Signer) -> Flask:
    jwks = write_json(tmp_path / "ehr-jwks.json", signer.jwks())
    return auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}])


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class _Reasons(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "service.web.token_checks" and hasattr(record, "reason"):
            self.reasons.append(record.reason)


@pytest.fixture
def reasons(app: Flask) -> Any:
    """The reasons the service logged for its refusals (the caller never sees them)."""
    handler = _Reasons()
    logger = logging.getLogger("service")
    logger.addHandler(handler)
    yield handler.reasons
    logger.removeHandler(handler)


def get(client: FlaskClient, headers: dict[str, str] | None = None) -> Any:
    return client.get(DISCOVERY, base_url=BASE, headers=headers or {})


def assert_refused(response: Any, reasons: list[str] | None = None, why: str = "") -> None:
    """401 without detail; with ``reasons``, the log says why (so the right check fired)."""
    if reasons is not None:
        assert reasons and why in reasons[-1], reasons
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert [issue["diagnostics"] for issue in body["issue"]] == [INVALID]
    assert b"Traceback" not in response.data


def _b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_valid_token_is_accepted(client: FlaskClient, signer: Signer) -> None:
    assert get(client, bearer(signer.token())).status_code == 200


def test_rs384_is_accepted(tmp_path: Path) -> None:
    rsa = Signer("RS384")
    jwks = write_json(tmp_path / "rsa.json", rsa.jwks())
    app = auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}])
    assert get(app.test_client(), bearer(rsa.token())).status_code == 200


def test_es256_only_when_configured(tmp_path: Path) -> None:
    es256 = Signer("ES256")
    jwks = write_json(tmp_path / "p256.json", es256.jwks())
    issuers = [{"iss": ISSUER, "jwks_file": str(jwks)}]
    assert_refused(get(auth_app(tmp_path, issuers).test_client(), bearer(es256.token())))
    enabled = auth_app(tmp_path, issuers, JWT_ALGORITHMS="ES384,ES256")
    assert get(enabled.test_client(), bearer(es256.token())).status_code == 200


def test_no_authorization_header(client: FlaskClient, reasons: list[str]) -> None:
    assert_refused(get(client), reasons, "no Authorization header")


def test_not_a_bearer_scheme(client: FlaskClient, reasons: list[str], signer: Signer) -> None:
    assert_refused(
        get(client, {"Authorization": f"Basic {signer.token()}"}), reasons, "not a Bearer"
    )


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOi.eyJpc3Mi.sig", "..", _b64(b"[1,2]") + ".e30.", "é"],
)
def test_malformed_token(client: FlaskClient, reasons: list[str], token: str) -> None:
    assert_refused(get(client, bearer(token)), reasons, "")


def test_alg_none_is_refused(
    client: FlaskClient, reasons: list[str], signer: Signer
) -> None:  # spec 201
    header = {"alg": "none", "typ": "JWT", "kid": signer.kid}
    payload = jwt.decode(signer.token(), options={"verify_signature": False})
    assert_refused(
        get(client, bearer(f"{_b64(header)}.{_b64(payload)}.")), reasons, "algorithm 'none'"
    )


def test_hs256_signed_with_the_public_key_is_refused(  # spec 203: key-confusion attack
    client: FlaskClient, reasons: list[str], signer: Signer
) -> None:
    public_pem = signer.private_key.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    payload = jwt.decode(signer.token(), options={"verify_signature": False})
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": signer.kid})
    body = _b64(payload)
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert_refused(
        get(client, bearer(f"{header}.{body}.{_b64(signature)}")), reasons, "algorithm 'HS256'"
    )


def test_hs_algorithms_cannot_be_enabled(tmp_path: Path, signer: Signer) -> None:
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    with pytest.raises(ValueError, match="never none or HS"):
        auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}], JWT_ALGORITHMS="HS256")


def test_wrong_aud(client: FlaskClient, reasons: list[str], signer: Signer) -> None:
    # Issued for the service endpoint, presented at discovery.
    assert_refused(get(client, bearer(signer.token(SERVICE))), reasons, "InvalidAudience")


@pytest.mark.parametrize(
    "aud",
    [BASE, BASE + "/", BASE + DISCOVERY + "/", "https://127.0.0.1:8091" + DISCOVERY],
)
def test_aud_must_be_exactly_the_endpoint(
    client: FlaskClient, reasons: list[str], signer: Signer, aud: str
) -> None:
    assert_refused(get(client, bearer(signer.token(aud=aud))), reasons, "InvalidAudience")


def test_aud_as_a_list_holding_the_endpoint(client: FlaskClient, signer: Signer) -> None:
    token = signer.token(aud=[BASE + DISCOVERY])
    assert get(client, bearer(token)).status_code == 200


def test_expired(client: FlaskClient, reasons: list[str], signer: Signer) -> None:
    assert_refused(get(client, bearer(signer.token(now=NOW - 400))), reasons, "expired")


def test_expired_within_the_leeway_is_accepted(client: FlaskClient, signer: Signer) -> None:
    token = signer.token(exp=int(NOW) - 3, iat=int(NOW) - 303)
    assert get(client, bearer(token)).status_code == 200


def test_iat_in_the_future_past_the_leeway(
    client: FlaskClient, reasons: list[str], signer: Signer
) -> None:
    assert_refused(get(client, bearer(signer.token(now=NOW + 6))), reasons, "iat is in the future")


def test_iat_in_the_future_within_the_leeway(client: FlaskClient, signer: Signer) -> None:
    assert get(client, bearer(signer.token(now=NOW + 4))).status_code == 200


def test_nbf_and_sub_accepted_when_present(client: FlaskClient, signer: Signer) -> None:
    # Epic-style tokens carry sub and nbf.
    token = signer.token(sub="client-id-123", nbf=int(NOW) - 1)
    assert get(client, bearer(token)).status_code == 200


def test_nbf_in_the_future(client: FlaskClient, reasons: list[str], signer: Signer) -> None:
    assert_refused(get(client, bearer(signer.token(nbf=int(NOW) + 60))), reasons, "nbf")


@pytest.mark.parametrize("missing", ["iss", "aud", "exp", "iat", "jti"])
def test_required_claims(
    client: FlaskClient, reasons: list[str], signer: Signer, missing: str
) -> None:
    assert_refused(get(client, bearer(signer.token(**{missing: None}))), reasons, "")


@pytest.mark.parametrize("claim", [{"exp": "soon"}, {"iat": True}, {"jti": 42}, {"jti": ""}])
def test_claims_of_the_wrong_type(
    client: FlaskClient, reasons: list[str], signer: Signer, claim: dict[str, Any]
) -> None:
    assert_refused(get(client, bearer(signer.token(**claim))), reasons, "")


def test_unknown_kid(client: FlaskClient, reasons: list[str], signer: Signer) -> None:
    stranger = Signer("ES384")
    assert_refused(get(client, bearer(stranger.token())), reasons, "kid not in")
    # Same kid as the trusted key, other key: the signature fails.
    impostor = Signer("ES384", kid=signer.kid)
    assert_refused(get(client, bearer(impostor.token())), reasons, "InvalidSignature")


def test_untrusted_iss(client: FlaskClient, reasons: list[str], signer: Signer) -> None:
    assert_refused(
        get(client, bearer(signer.token(iss="https://evil.example.com"))),
        reasons,
        "issuer is not trusted",
    )


def test_jku_in_a_token_of_a_file_configured_issuer_is_ignored(
    client: FlaskClient, signer: Signer
) -> None:
    # Keys come from the file only; the jku (unreachable here) is never fetched.
    token = signer.token(headers={"jku": "http://127.0.0.1:9/jwks.json"})
    assert get(client, bearer(token)).status_code == 200


def test_tampered_payload(client: FlaskClient, reasons: list[str], signer: Signer) -> None:
    header, _, signature = signer.token().split(".")
    forged = _b64(
        {
            "iss": ISSUER,
            "aud": BASE + DISCOVERY,
            "exp": int(NOW) + 300,
            "iat": int(NOW),
            "jti": str(uuid.uuid4()),
        }
    )
    assert_refused(
        get(client, bearer(f"{header}.{forged}.{signature}")), reasons, "InvalidSignature"
    )


def test_tenant_allowlist(tmp_path: Path, signer: Signer) -> None:  # optional `tenant` claim
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    app = auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks), "tenants": ["hospital-a"]}])
    client = app.test_client()
    assert get(client, bearer(signer.token(tenant="hospital-a"))).status_code == 200
    assert_refused(get(client, bearer(signer.token(tenant="hospital-b"))))
    assert_refused(get(client, bearer(signer.token())))


def test_service_and_any_path_under_cds_services_are_protected(client: FlaskClient) -> None:
    assert_refused(client.post(SERVICE, base_url=BASE, json={}))
    assert_refused(client.post(SERVICE + "/feedback", base_url=BASE, json={}))
    assert_refused(client.get("/cds-services/unknown", base_url=BASE))


def test_token_checked_before_the_body(client: FlaskClient) -> None:
    # An unauthenticated caller learns nothing about what the service would say.
    response = client.post(
        SERVICE, base_url=BASE, data=b"{not json", content_type="application/json"
    )
    assert_refused(response)


def test_frozen_clock_is_the_verifiers_clock(tmp_path: Path, signer: Signer) -> None:
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    later = auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}], CLOCK=frozen(NOW + 3600))
    assert_refused(get(later.test_client(), bearer(signer.token())))
