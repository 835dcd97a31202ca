"""A token may live at most MCAS_JWT_MAX_LIFETIME_SECONDS (`exp - iat`), default 300 s
(CDS Hooks' five-minute advice) plus MCAS_JWT_LEEWAY_SECONDS; a token without `iat` is
refused (CDS Hooks 2.0 requires it, and without it the lifetime cannot be bounded).

Red-team finding (issue 17): a token expiring in 100 years was accepted, and its `jti`
then stayed in the replay cache for 100 years.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.auth_helpers import BASE, DISCOVERY, ISSUER, NOW, Signer, auth_app, bearer, write_json

CENTURY = 100 * 365 * 24 * 3600


@pytest.fixture
def signer() -> Signer:
    return Signer()


def app_for(tmp_path: Path, signer: Signer, **config: Any) -> Flask:
    jwks = write_json(tmp_path / "k.json", signer.jwks())
    return auth_app(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}], **config)


def status(app: Flask, token: str) -> int:
    return app.test_client().get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code


def test_token_living_longer_than_the_maximum_is_refused(tmp_path: Path, signer: Signer) -> None:
    app = app_for(tmp_path, signer)
    assert status(app, signer.token(exp=int(NOW) + CENTURY)) == 401


@pytest.mark.parametrize(("lifetime", "expected"), [(300, 200), (305, 200), (306, 401)])
def test_the_maximum_is_five_minutes_plus_the_leeway(
    tmp_path: Path, signer: Signer, lifetime: int, expected: int
) -> None:
    app = app_for(tmp_path, signer)
    assert status(app, signer.token(iat=int(NOW) - 10, exp=int(NOW) - 10 + lifetime)) == expected


def test_the_maximum_is_a_setting(tmp_path: Path, signer: Signer) -> None:
    app = app_for(tmp_path, signer, JWT_MAX_LIFETIME_SECONDS=3600.0)
    assert status(app, signer.token(exp=int(NOW) + 3000)) == 200
    assert status(app, signer.token(exp=int(NOW) + 4000)) == 401


def test_a_too_long_lived_token_is_logged_and_counted(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    from prometheus_client import REGISTRY

    def counted() -> float:
        labels = {"reason": "lifetime_too_long"}
        return REGISTRY.get_sample_value("mcas_token_rejections_total", labels) or 0.0

    before = counted()
    assert status(app_for(tmp_path, signer), signer.token(exp=int(NOW) + CENTURY)) == 401
    assert counted() == before + 1
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "{" in line]
    (line,) = [line for line in lines if line["message"] == "client token rejected"]
    assert "MCAS_JWT_MAX_LIFETIME_SECONDS" in line["reason"]


def test_a_token_without_iat_is_refused(tmp_path: Path, signer: Signer) -> None:
    assert status(app_for(tmp_path, signer), signer.token(iat=None)) == 401


def test_an_unreasonable_maximum_stops_start_up(tmp_path: Path, signer: Signer) -> None:
    from service.auth.trust import TrustConfigError

    with pytest.raises(TrustConfigError, match="MCAS_JWT_MAX_LIFETIME_SECONDS"):
        app_for(tmp_path, signer, JWT_MAX_LIFETIME_SECONDS=0.0)
