"""Keys, tokens and apps for the authentication tests: everything signed here is made here."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from jwt.algorithms import get_default_algorithms

from service import create_app

BASE = "http://127.0.0.1:8091"
DISCOVERY = "/cds-services"
SERVICE = "/cds-services/mcas-therapy-tier"
FEEDBACK = "/cds-services/mcas-therapy-tier/feedback"
ISSUER = "https://ehr.example.org"
NOW = 1_795_607_100.0  # 2026-11-25T11:45:00Z, the recording's minute


class Signer:
    """A CDS client: a key pair, its kid, and tokens signed with it."""

    def __init__(self, alg: str = "ES384", kid: str | None = None) -> None:
        self.alg = alg
        self.kid = kid or f"test-{uuid.uuid4()}"
        if alg.startswith("ES"):
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
            self.private_key: Any = ec.generate_private_key(curve[alg])
        else:
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_jwk(self) -> dict[str, Any]:
        algorithm = get_default_algorithms()[self.alg]
        jwk = json.loads(algorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return jwk

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def token(
        self,
        path: str = DISCOVERY,
        *,
        base: str = BASE,
        now: float = NOW,
        iss: str = ISSUER,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        payload: dict[str, Any] = {
            "iss": iss,
            "aud": base + path,
            "exp": int(now) + 300,
            "iat": int(now),
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        header = {"kid": self.kid, "typ": "JWT"}
        header.update(headers or {})
        return jwt.encode(payload, self.private_key, algorithm=self.alg, headers=header)


def frozen(at: float) -> Callable[[], datetime]:
    moment = datetime.fromtimestamp(at, UTC)
    return lambda: moment


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def trust_file(tmp_path: Path, issuers: list[dict[str, Any]]) -> Path:
    return write_json(tmp_path / f"trust-{time.monotonic_ns()}.json", {"issuers": issuers})


def auth_app(tmp_path: Path, issuers: list[dict[str, Any]], **config: Any) -> Flask:
    """An app with verification ON, trusting ``issuers``, with a frozen clock."""
    settings: dict[str, Any] = {
        "TESTING": True,
        "AUTH_DISABLED": False,
        "TRUST_FILE": str(trust_file(tmp_path, issuers)),
        "REPLAY_CACHE": str(tmp_path / "replay.sqlite3"),
        "CLOCK": frozen(NOW),
        # The URL the tokens made here name (their `aud`): issue 17, no Host-derived aud.
        "PUBLIC_BASE_URL": BASE,
    }
    settings.update(config)
    return create_app(settings)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
