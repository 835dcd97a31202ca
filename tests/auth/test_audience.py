"""The `aud` a token must carry: from MCAS_PUBLIC_BASE_URL, or from the request's Host
only when that Host is listed in MCAS_ALLOWED_HOSTS; with neither set, no token passes.

Red-team finding (issue 17): with MCAS_PUBLIC_BASE_URL unset the expected `aud` came from
whatever Host the caller sent, so a token the same EHR minted for another CDS service was
accepted with a spoofed Host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.auth_helpers import DISCOVERY, ISSUER, Signer, auth_app, bearer, write_json
from tests.support.postgres import free_port

# Another CDS service the same EHR calls, with tokens for it.
OTHER_SERVICE = "https://other-cds.example.com"


@pytest.fixture
def signer() -> Signer:
    return Signer()


def app_for(tmp_path: Path, signer: Signer, **config: Any) -> Flask:
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    settings: dict[str, Any] = {"PUBLIC_BASE_URL": None, "ALLOWED_HOSTS": None}
    settings.update(config)
    return auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}], **settings)


def rejection_lines(err: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line["message"] == "client token rejected"]


def test_host_derived_audience_is_refused(tmp_path: Path, signer: Signer) -> None:
    # The EHR's token for another service, replayed to us with that service's Host.
    client = app_for(tmp_path, signer).test_client()
    stolen = signer.token(DISCOVERY, base=OTHER_SERVICE)
    response = client.get(DISCOVERY, base_url=OTHER_SERVICE, headers=bearer(stolen))
    assert response.status_code == 401


def test_without_base_url_or_allowed_hosts_every_token_is_refused_naming_the_settings(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    client = app_for(tmp_path, signer).test_client()
    base = "http://127.0.0.1:8091"
    response = client.get(DISCOVERY, base_url=base, headers=bearer(signer.token(DISCOVERY)))
    assert response.status_code == 401
    (line,) = rejection_lines(capsys.readouterr().err)
    assert "MCAS_PUBLIC_BASE_URL" in line["reason"] and "MCAS_ALLOWED_HOSTS" in line["reason"]


def test_without_base_url_or_allowed_hosts_readyz_fails(tmp_path: Path, signer: Signer) -> None:
    ready = app_for(tmp_path, signer).test_client().get("/readyz")
    assert ready.status_code == 503
    check = ready.get_json()["checks"]["audience"]
    assert check["status"] == "fail"
    assert "MCAS_PUBLIC_BASE_URL" in check["output"] and "MCAS_ALLOWED_HOSTS" in check["output"]


@pytest.mark.parametrize("allowed", ["127.0.0.1:8091", "cds.example.org, 127.0.0.1:8091"])
def test_allowed_hosts_computes_aud_from_a_listed_host(
    tmp_path: Path, signer: Signer, allowed: str
) -> None:
    client = app_for(tmp_path, signer, ALLOWED_HOSTS=allowed).test_client()
    base = "http://127.0.0.1:8091"
    token = signer.token(DISCOVERY, base=base)
    assert client.get(DISCOVERY, base_url=base, headers=bearer(token)).status_code == 200
    assert client.get("/readyz").status_code == 200


def test_host_not_in_allowed_hosts_is_refused_naming_it(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    client = app_for(tmp_path, signer, ALLOWED_HOSTS="127.0.0.1:8091").test_client()
    stolen = signer.token(DISCOVERY, base=OTHER_SERVICE)
    response = client.get(DISCOVERY, base_url=OTHER_SERVICE, headers=bearer(stolen))
    assert response.status_code == 401
    (line,) = rejection_lines(capsys.readouterr().err)
    assert "other-cds.example.com" in line["reason"] and "MCAS_ALLOWED_HOSTS" in line["reason"]


def test_another_port_of_an_allowed_host_is_not_allowed(tmp_path: Path, signer: Signer) -> None:
    client = app_for(tmp_path, signer, ALLOWED_HOSTS="127.0.0.1:8091").test_client()
    base = "http://127.0.0.1:9999"
    token = signer.token(DISCOVERY, base=base)
    assert client.get(DISCOVERY, base_url=base, headers=bearer(token)).status_code == 401


def test_public_base_url_wins_over_the_host(tmp_path: Path, signer: Signer) -> None:
    client = app_for(tmp_path, signer, PUBLIC_BASE_URL="https://cds.example.org").test_client()
    token = signer.token(DISCOVERY, base="https://cds.example.org")
    assert client.get(DISCOVERY, base_url=OTHER_SERVICE, headers=bearer(token)).status_code == 200
    stolen = signer.token(DISCOVERY, base=OTHER_SERVICE)
    assert client.get(DISCOVERY, base_url=OTHER_SERVICE, headers=bearer(stolen)).status_code == 401


def test_allowed_hosts_from_the_environment(
    tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCAS_ALLOWED_HOSTS", "localhost:5000, 127.0.0.1:5000")
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    client = auth_app(
        tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}], PUBLIC_BASE_URL=None
    ).test_client()
    for base in ("http://localhost:5000", "http://127.0.0.1:5000"):
        token = signer.token(DISCOVERY, base=base)
        assert client.get(DISCOVERY, base_url=base, headers=bearer(token)).status_code == 200


def test_serve_verify_tokens_sets_the_allowed_hosts(tmp_path: Path, signer: Signer) -> None:
    # `mcas-cds serve --verify-tokens` names the address it serves, so a token for it passes.
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    issuers = {"issuers": [{"iss": ISSUER, "jwks_file": str(jwks)}]}
    trust = write_json(tmp_path / "trust.json", issuers)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCAS_")}
    env.update(
        MCAS_TRUST_FILE=str(trust),
        MCAS_DATA_DIR=str(tmp_path / "data"),
        MCAS_AUTH_DISABLED="false",
    )
    executable = Path(sys.executable).parent / "mcas-cds"
    process = subprocess.Popen(
        [str(executable), "serve", "--verify-tokens", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None
                assert time.monotonic() < deadline, "mcas-cds serve did not start"
                time.sleep(0.2)
        token = signer.token(DISCOVERY, base=base, now=time.time())
        assert requests.get(base + DISCOVERY, headers=bearer(token), timeout=5).status_code == 200
        assert requests.get(base + "/readyz", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=10)
