"""Start-up checks of the trust configuration, and the local-testing mode."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from service import create_app
from service.auth.trust import TrustConfigError
from tests.support.auth_helpers import ISSUER, Signer, write_json


def start(tmp_path: Path, trust: Any, **config: Any) -> Any:
    path = tmp_path / "trust.yaml"
    path.write_text(trust if isinstance(trust, str) else json.dumps(trust), encoding="utf-8")
    settings = {
        "TESTING": True,
        "AUTH_DISABLED": False,
        "TRUST_FILE": str(path),
        "REPLAY_CACHE": "memory",
    }
    settings.update(config)
    return create_app(settings)


def test_yaml_trust_file_with_relative_jwks_path(tmp_path: Path) -> None:
    write_json(tmp_path / "ehr-jwks.json", Signer().jwks())
    trust = f"""
issuers:
  - iss: {ISSUER}
    jwks_file: ehr-jwks.json
    tenants: [hospital-a]
  - iss: https://other.example.com
    jku:
      - https://other.example.com/.well-known/jwks.json
"""
    assert start(tmp_path, trust) is not None


@pytest.mark.parametrize(
    ("trust", "message"),
    [
        ("issuers: [", "not valid YAML"),
        ({"issuer": []}, "'issuers' list"),
        ({"issuers": [], "extra": 1}, "unknown keys"),
        ({"issuers": ["https://x"]}, r"issuers\[0\]: expected a mapping"),
        ({"issuers": [{"jku": ["https://x/j"]}]}, "'iss' must be"),
        ({"issuers": [{"iss": "https://x"}]}, "exactly one of 'jwks_file' and 'jku'"),
        (
            {"issuers": [{"iss": "https://x", "jku": ["https://x/j"], "jwks_file": "k.json"}]},
            "exactly one of",
        ),
        ({"issuers": [{"iss": "https://x", "jku": []}]}, "at least one URL"),
        ({"issuers": [{"iss": "https://x", "jku": ["ftp://x/j"]}]}, "not an http"),
        ({"issuers": [{"iss": "https://x", "jku": "https://x/j"}]}, "list of non-empty strings"),
        ({"issuers": [{"iss": "https://x", "jwks_file": "missing.json"}]}, "cannot be read"),
        ({"issuers": [{"iss": "https://x", "jku": ["https://x/j"], "tenant": ["a"]}]}, "unknown"),
        (
            {
                "issuers": [
                    {"iss": "https://x", "jku": ["https://x/j"]},
                    {"iss": "https://x", "jku": ["https://x/k"]},
                ]
            },
            "listed twice",
        ),
    ],
)
def test_bad_trust_file_stops_start_up_with_a_clear_error(
    tmp_path: Path, trust: Any, message: str
) -> None:
    with pytest.raises(TrustConfigError, match=message):
        start(tmp_path, trust)


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ("not json", "is not JSON"),
        ({"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}, "only EC and RSA"),
        ({"keys": [{"kty": "EC", "crv": "P-384", "x": "a", "y": "b"}]}, "'kid'"),
        ({"keys": [{"kty": "EC", "kid": "p", "d": "secret", "x": "a", "y": "b"}]}, "private"),
        ({"kid": "no-set"}, "JWK Set"),
    ],
)
def test_bad_jwks_file_stops_start_up(tmp_path: Path, jwks: Any, message: str) -> None:
    path = tmp_path / "k.json"
    path.write_text(jwks if isinstance(jwks, str) else json.dumps(jwks), encoding="utf-8")
    with pytest.raises(TrustConfigError, match=message):
        start(tmp_path, {"issuers": [{"iss": ISSUER, "jwks_file": str(path)}]})


@pytest.mark.parametrize("algorithms", ["none", "HS256", "ES384,HS512", ""])
def test_unsafe_algorithms_cannot_be_configured(tmp_path: Path, algorithms: str) -> None:
    write_json(tmp_path / "k.json", Signer().jwks())
    trust = {"issuers": [{"iss": ISSUER, "jwks_file": "k.json"}]}
    with pytest.raises(TrustConfigError, match="MCAS_JWT_ALGORITHMS"):
        start(tmp_path, trust, JWT_ALGORITHMS=algorithms)


def test_missing_trust_file_setting_names_the_way_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("MCAS_AUTH_DISABLED", "false")
    create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any(
        re.search(r"MCAS_TRUST_FILE.*MCAS_AUTH_DISABLED=true", message) for message in errors
    )


def test_trust_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_json(tmp_path / "k.json", Signer().jwks())
    write_json(tmp_path / "trust.json", {"issuers": [{"iss": ISSUER, "jwks_file": "k.json"}]})
    monkeypatch.setenv("MCAS_AUTH_DISABLED", "false")
    monkeypatch.setenv("MCAS_TRUST_FILE", str(tmp_path / "trust.json"))
    monkeypatch.setenv("MCAS_REPLAY_CACHE", str(tmp_path / "r.sqlite3"))
    client = create_app().test_client()
    assert client.get("/cds-services").status_code == 401


# --- local-testing mode ------------------------------------------------------------


def test_local_testing_mode_warns_at_every_start(capfd: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        create_app({"TESTING": True, "AUTH_DISABLED": True})
    err = capfd.readouterr().err
    warnings = [json.loads(line) for line in err.splitlines() if "verification is OFF" in line]
    assert len(warnings) == 2
    assert all(w["level"] == "WARNING" for w in warnings)


def test_local_testing_mode_answers_loopback_clients() -> None:
    client = create_app({"TESTING": True, "AUTH_DISABLED": True}).test_client()
    for address in ("127.0.0.1", "::1", "127.0.0.2"):
        response = client.get("/cds-services", environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 200, address


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.20", "2001:db8::1", "not-an-ip"])
def test_local_testing_mode_refuses_other_clients(address: str) -> None:
    client = create_app({"TESTING": True, "AUTH_DISABLED": True}).test_client()
    for method, path in (("GET", "/cds-services"), ("POST", "/cds-services/mcas-therapy-tier")):
        response = client.open(path, method=method, environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 403
        assert response.get_json()["resourceType"] == "OperationOutcome"


def test_local_testing_mode_refuses_requests_through_a_proxy() -> None:
    # Behind a proxy on the same host every client would look like loopback.
    client = create_app({"TESTING": True, "AUTH_DISABLED": True}).test_client()
    response = client.get("/cds-services", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 403


def test_documented_example_trust_file_is_valid(tmp_path: Path) -> None:
    from tests.support.paths import ROOT

    example = (ROOT / "docs" / "trust.example.yaml").read_text(encoding="utf-8")
    write_json(tmp_path / "ehr-example-jwks.json", Signer().jwks())
    assert start(tmp_path, example) is not None


def test_makefile_run_uses_the_documented_local_testing_mode() -> None:
    from tests.support.paths import ROOT

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "MCAS_AUTH_DISABLED=true" in run and "--host 127.0.0.1" in run
