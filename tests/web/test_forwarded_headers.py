"""Forwarded headers (X-Forwarded-Proto/Host/Prefix, a SCRIPT_NAME header) count only
from the proxies named in MCAS_TRUSTED_PROXIES; nobody is trusted by default.

Red-team finding (issue 17): `X-Forwarded-Proto` was trusted from loopback (gunicorn's
`forwarded_allow_ips` default in deploy/gunicorn.conf.py), so any local process could
choose the scheme of the URL a token's `aud` is compared with.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.auth_helpers import DISCOVERY, ISSUER, Signer, auth_app, bearer, trust_file, write_json
from tests.production_server import documented_command, free_port, production_server

PROXY = "10.0.0.1"
FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "cds.example.org",
    "X-Forwarded-Prefix": "/mcas",
}
PUBLIC = "https://cds.example.org/mcas"


@pytest.fixture
def signer() -> Signer:
    return Signer()


def app_for(tmp_path: Path, signer: Signer, **config: Any) -> Flask:
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    settings: dict[str, Any] = {
        "PUBLIC_BASE_URL": None,
        "ALLOWED_HOSTS": "cds.example.org,127.0.0.1:8091",
    }
    settings.update(config)
    return auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}], **settings)


def call(app: Flask, token: str, peer: str, **headers: str) -> int:
    response = app.test_client().get(
        DISCOVERY,
        base_url="http://127.0.0.1:8091",
        headers={**bearer(token), **headers},
        environ_base={"REMOTE_ADDR": peer},
    )
    return response.status_code


@pytest.mark.parametrize("trusted", [PROXY, "10.0.0.0/24", "192.0.2.7, 10.0.0.1"])
def test_forwarded_headers_from_a_trusted_proxy_make_the_audience(
    tmp_path: Path, signer: Signer, trusted: str
) -> None:
    app = app_for(tmp_path, signer, TRUSTED_PROXIES=trusted)
    token = signer.token(DISCOVERY, base=PUBLIC)
    assert call(app, token, PROXY, **FORWARDED) == 200


@pytest.mark.parametrize("peer", ["10.0.0.2", "127.0.0.1", "::1"])
def test_forwarded_headers_from_anyone_else_are_ignored(
    tmp_path: Path, signer: Signer, peer: str
) -> None:
    app = app_for(tmp_path, signer, TRUSTED_PROXIES=PROXY)
    assert call(app, signer.token(DISCOVERY, base=PUBLIC), peer, **FORWARDED) == 401
    # The URL the peer really called still works.
    plain = signer.token(DISCOVERY, base="http://127.0.0.1:8091")
    assert call(app, plain, peer, **FORWARDED) == 200


def test_no_proxy_is_trusted_by_default(tmp_path: Path, signer: Signer) -> None:
    app = app_for(tmp_path, signer)
    assert call(app, signer.token(DISCOVERY, base=PUBLIC), "127.0.0.1", **FORWARDED) == 401


def test_a_bad_trusted_proxies_entry_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service import create_app
    from service.settings import SettingError

    monkeypatch.setenv("MCAS_TRUSTED_PROXIES", "10.0.0.1, the-ingress")
    with pytest.raises(SettingError, match="MCAS_TRUSTED_PROXIES"):
        create_app({"TESTING": True})


# --- under gunicorn, as deployed -------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, signer: Signer, request: pytest.FixtureRequest) -> Iterator[str]:
    jwks = write_json(tmp_path / "jwks.json", signer.jwks())
    port = free_port()
    env = {
        "MCAS_WORKERS": "1",
        "MCAS_TRUST_FILE": str(trust_file(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}])),
        "MCAS_ALLOWED_HOSTS": f"127.0.0.1:{port}",
        "MCAS_PATIENT_HASH_SALT": "forwarded-test-salt-0123456789",
        **getattr(request, "param", {}),
    }
    with production_server(documented_command(), tmp_path, env, port) as server:
        yield server.base_url


def test_forwarded_proto_from_loopback_is_not_trusted_by_default(
    served: str, signer: Signer
) -> None:
    https_aud = served.replace("http:", "https:")
    spoofed = signer.token(DISCOVERY, base=https_aud, now=time.time())
    answer = requests.get(
        served + DISCOVERY,
        headers={**bearer(spoofed), "X-Forwarded-Proto": "https"},
        timeout=10,
    )
    assert answer.status_code == 401
    honest = signer.token(DISCOVERY, base=served, now=time.time())
    answer = requests.get(
        served + DISCOVERY,
        headers={**bearer(honest), "X-Forwarded-Proto": "https"},
        timeout=10,
    )
    assert answer.status_code == 200


def test_script_name_header_from_an_untrusted_peer_is_ignored(
    served: str, signer: Signer
) -> None:
    token = signer.token(DISCOVERY, base=served, now=time.time())
    answer = requests.get(
        served + DISCOVERY, headers={**bearer(token), "SCRIPT_NAME": "/elsewhere"}, timeout=10
    )
    assert answer.status_code == 200


@pytest.mark.parametrize("served", [{"MCAS_TRUSTED_PROXIES": "127.0.0.1"}], indirect=True)
def test_forwarded_proto_from_a_configured_proxy_is_trusted(served: str, signer: Signer) -> None:
    https_aud = served.replace("http:", "https:")
    token = signer.token(DISCOVERY, base=https_aud, now=time.time())
    answer = requests.get(
        served + DISCOVERY, headers={**bearer(token), "X-Forwarded-Proto": "https"}, timeout=10
    )
    assert answer.status_code == 200
