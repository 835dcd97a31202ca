"""CORS for browser-based CDS clients (spec 208): an origin allowlist; preflights are
answered without a token; an origin off the list gets no CORS headers at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app
from tests.support.auth_helpers import BASE, ISSUER, Signer, auth_app, bearer, write_json

SANDBOX = "http://127.0.0.1:8080"
PATHS = [
    ("/cds-services", "GET", "authorization"),
    ("/cds-services/mcas-therapy-tier", "POST", "authorization,content-type"),
    ("/cds-services/mcas-therapy-tier/feedback", "POST", "authorization,content-type"),
]
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
)


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def client(tmp_path: Path, signer: Signer) -> FlaskClient:
    # Verification on: preflights must pass without any token.
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    app = auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}], CORS_ORIGINS=SANDBOX)
    return app.test_client()


def preflight(client: FlaskClient, path: str, method: str, headers: str, origin: str) -> Any:
    return client.options(
        path,
        base_url=BASE,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize(("path", "method", "headers"), PATHS)
def test_preflight_from_an_allowed_origin(
    client: FlaskClient, path: str, method: str, headers: str
) -> None:
    response = preflight(client, path, method, headers, SANDBOX)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == headers
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in response.headers["Vary"]
    assert response.data == b""


@pytest.mark.parametrize(("path", "method", "headers"), PATHS)
def test_preflight_from_another_origin_gets_no_cors_headers(
    client: FlaskClient, path: str, method: str, headers: str
) -> None:
    for origin in ("http://evil.example", "http://127.0.0.1:8081", "null"):
        response = preflight(client, path, method, headers, origin)
        assert response.status_code == 204
        assert not any(name in response.headers for name in CORS_HEADERS)


def test_preflight_grants_only_the_headers_a_cds_client_needs(client: FlaskClient) -> None:
    response = preflight(
        client, "/cds-services", "GET", "authorization,x-debug-token,content-type", SANDBOX
    )
    assert response.headers["Access-Control-Allow-Headers"] == "authorization,content-type"


def test_actual_call_from_an_allowed_origin_carries_the_origin(
    client: FlaskClient, signer: Signer
) -> None:
    headers = {"Origin": SANDBOX, **bearer(signer.token())}
    response = client.get("/cds-services", base_url=BASE, headers=headers)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX


def test_a_refusal_is_readable_by_the_allowed_page(client: FlaskClient) -> None:
    # Without the header the page would see an opaque network error instead of the 401.
    response = client.get("/cds-services", base_url=BASE, headers={"Origin": SANDBOX})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX


def test_actual_call_from_another_origin_has_no_cors_header(
    client: FlaskClient, signer: Signer
) -> None:
    headers = {"Origin": "http://evil.example", **bearer(signer.token())}
    response = client.get("/cds-services", base_url=BASE, headers=headers)
    assert "Access-Control-Allow-Origin" not in response.headers


def test_no_origins_configured_means_no_cors_headers() -> None:
    client = create_app({"TESTING": True, "AUTH_DISABLED": True}).test_client()
    response = preflight(client, "/cds-services", "GET", "authorization", SANDBOX)
    assert response.status_code == 204
    assert not any(name in response.headers for name in CORS_HEADERS)


def test_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCAS_CORS_ORIGINS", f"{SANDBOX}, https://ehr.example.org")
    client = create_app({"TESTING": True}).test_client()
    for origin in (SANDBOX, "https://ehr.example.org"):
        response = preflight(client, "/cds-services", "GET", "authorization", origin)
        assert response.headers["Access-Control-Allow-Origin"] == origin
