"""The two configurations the benchmark compares: as deployed, and with both features off.

Token verification (trust) and card recording (storage) are optional here: the harness
looks for their settings in ``service.settings.all_settings()`` and reports "n/a" when a
feature is not in this build. When present, "deployed" switches them on exactly as an
administrator does, through the documented settings:

- token verification: ``MCAS_TRUST_FILE`` naming a trust file whose issuer's keys come
  from a JWKS file holding a P-384 key generated for this run; every request carries a
  fresh ES384 JWT (its own ``jti``, ``aud`` = the URL called) signed with that key; the
  replay cache is an SQLite file shared by the workers (``MCAS_REPLAY_CACHE``);
- card recording: ``MCAS_RECORD_CARDS=true`` into a temporary SQLite database
  (``MCAS_DATABASE_URL``, ``MCAS_DATA_DIR``, ``MCAS_PATIENT_HASH_SALT``).

"off" sets ``MCAS_AUTH_DISABLED=true`` (local-testing mode: loopback clients only, which
the benchmark is) and ``MCAS_RECORD_CARDS=false``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from service import settings as service_settings

ISSUER = "https://bench.mcas-cds.invalid"
KEY_ID = "bench-es384"
TOKEN_LIFETIME_SECONDS = 300

CONFIG_NAMES = ("off", "deployed")
# Optional, to attribute the cost of "deployed" to each feature: one feature on at a time.
EXTRA_CONFIG_NAMES = ("tokens", "recording")


@dataclass(frozen=True)
class Available:
    token_verification: bool
    card_recording: bool

    @classmethod
    def detect(cls) -> Available:
        keys = {s.key for s in service_settings.all_settings()}
        return cls(
            token_verification={"AUTH_DISABLED", "TRUST_FILE"} <= keys,
            card_recording="RECORD_CARDS" in keys,
        )

    def describe(self, config: str) -> dict[str, str]:
        """'on' / 'off' / 'n/a' per feature, for the table and the JSON."""
        tokens, recording = _switches(config)
        return {
            "token_verification": ("on" if tokens else "off") if self.token_verification
            else "n/a",
            "card_recording": ("on" if recording else "off") if self.card_recording else "n/a",
        }


def _switches(config: str) -> tuple[bool, bool]:
    """(token verification, card recording) of a configuration name."""
    return {
        "off": (False, False),
        "deployed": (True, True),
        "tokens": (True, False),
        "recording": (False, True),
    }[config]


class TokenMint:
    """Signs CDS-client JWTs with a key generated for this run (never written anywhere
    but the run's temporary directory, and only its public half)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP384R1())

    def public_jwks(self) -> dict[str, Any]:
        public = ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        public.update({"kid": KEY_ID, "use": "sig", "alg": "ES384"})
        return {"keys": [public]}

    def token(self, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": "bench-client",
            "aud": audience,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm="ES384",
                          headers={"kid": KEY_ID, "typ": "JWT"})


class HeaderSource:
    """Request headers, one set per request: a fresh token each when verification is on.

    Tokens are signed ahead of a timed phase (``prepare``) so the load generator spends no
    CPU on signing while it measures; past the prepared stock it signs on demand.
    """

    def __init__(self, mint: TokenMint | None, audience: str) -> None:
        self._mint = mint
        self._audience = audience
        self._stock: list[str] = []
        self._lock = threading.Lock()

    def prepare(self, count: int) -> None:
        if self._mint is None:
            return
        fresh = [self._mint.token(self._audience) for _ in range(count)]
        with self._lock:
            self._stock = fresh

    def __call__(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._mint is None:
            return headers
        with self._lock:
            token = self._stock.pop() if self._stock else None
        if token is None:
            token = self._mint.token(self._audience)
        headers["Authorization"] = f"Bearer {token}"
        return headers


@dataclass
class BenchConfig:
    """One configuration: its settings, and the token mint when tokens are verified."""

    name: str
    settings: dict[str, Any]
    mint: TokenMint | None
    features: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """The same settings as MCAS_* environment variables, for gunicorn."""
        env: dict[str, str] = {}
        for key, value in self.settings.items():
            if isinstance(value, bool):
                raw = "true" if value else "false"
            elif isinstance(value, list | tuple):
                raw = ",".join(str(v) for v in value)
            else:
                raw = str(value)
            env[service_settings.ENV_PREFIX + key] = raw
        return env

    def headers(self, audience: str) -> HeaderSource:
        return HeaderSource(self.mint, audience)


def build_config(name: str, available: Available, workdir: Path, mint: TokenMint) -> BenchConfig:
    """Settings for ``name`` ('off', 'deployed', or one feature alone: 'tokens',
    'recording'), with its files under ``workdir``."""
    if name not in CONFIG_NAMES + EXTRA_CONFIG_NAMES:
        raise ValueError(f"unknown configuration {name!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    tokens, recording = _switches(name)
    values: dict[str, Any] = {}
    used_mint: TokenMint | None = None
    if available.token_verification:
        if tokens:
            jwks_path = workdir / "bench-jwks.json"
            jwks_path.write_text(json.dumps(mint.public_jwks()), encoding="utf-8")
            trust_path = workdir / "trust.json"
            trust = {"issuers": [{"iss": ISSUER, "jwks_file": jwks_path.name}]}
            trust_path.write_text(json.dumps(trust), encoding="utf-8")
            values.update(
                AUTH_DISABLED=False,
                TRUST_FILE=str(trust_path),
                REPLAY_CACHE=str(workdir / "replay-cache.sqlite3"),
                # The test client's host; bench/server.py adds gunicorn's host:port.
                ALLOWED_HOSTS="localhost",
            )
            used_mint = mint
        else:
            values["AUTH_DISABLED"] = True
    if available.card_recording:
        values["RECORD_CARDS"] = recording
        values["DATA_DIR"] = str(workdir)
        values["DATABASE_URL"] = f"sqlite:///{workdir / 'cards.sqlite3'}"
        values["PATIENT_HASH_SALT"] = secrets.token_hex(16)
    known = {s.key for s in service_settings.all_settings()}
    values = {k: v for k, v in values.items() if k in known}
    return BenchConfig(name, values, used_mint, available.describe(name))


def iter_configs(
    names: tuple[str, ...], available: Available, workdir: Path
) -> Iterator[BenchConfig]:
    mint = TokenMint()
    for name in names:
        yield build_config(name, available, workdir / name, mint)
