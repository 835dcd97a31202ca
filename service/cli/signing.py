"""Signs the bearer JWT a CDS client sends (CDS Hooks 2.0, "Trusting CDS Clients").

Claims as an EHR sends them: ``iss``, ``aud`` = the exact URL called, ``iat``,
``exp = iat + 300``, a fresh ``jti``; header ``alg`` (ES384 for P-384 keys, RS384 for RSA),
``typ: JWT``, ``kid`` and optionally ``jku``. The private key comes from a PEM file or a
private JWK (JSON); without ``--kid`` the key's RFC 7638 thumbprint is used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

TOKEN_LIFETIME = 300
_EC_ALGORITHMS = {"secp384r1": "ES384", "secp256r1": "ES256", "secp521r1": "ES512"}


class SigningError(Exception):
    """The key cannot be used; the message is meant for the user."""


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(key: PrivateKey) -> dict[str, str]:
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        numbers = public.public_numbers()
        size = (public.curve.key_size + 7) // 8
        crv = {"secp384r1": "P-384", "secp256r1": "P-256", "secp521r1": "P-521"}[
            public.curve.name
        ]
        return {
            "kty": "EC",
            "crv": crv,
            "x": _b64(numbers.x.to_bytes(size, "big")),
            "y": _b64(numbers.y.to_bytes(size, "big")),
        }
    rsa_numbers = public.public_numbers()
    return {
        "kty": "RSA",
        "n": _b64(rsa_numbers.n.to_bytes((rsa_numbers.n.bit_length() + 7) // 8, "big")),
        "e": _b64(rsa_numbers.e.to_bytes((rsa_numbers.e.bit_length() + 7) // 8, "big")),
    }


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of a public key."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode("ascii")).digest())


def load_private_key(path: Path) -> tuple[PrivateKey, str | None]:
    """The key, and the kid a JWK file names (PEM files name none)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read key file {path}: {exc.strerror}") from None
    kid: str | None = None
    if raw.lstrip().startswith(b"{"):
        try:
            jwk_data = json.loads(raw)
            if "keys" in jwk_data:  # a JWKS: take its single private key
                private = [k for k in jwk_data["keys"] if "d" in k]
                if len(private) != 1:
                    raise SigningError(f"{path}: expected exactly one private key in the JWKS")
                jwk_data = private[0]
            if "d" not in jwk_data:
                raise SigningError(f"{path}: this JWK is a public key; signing needs the private")
            key = jwt.PyJWK(jwk_data).key
            kid = jwk_data.get("kid")
        except (ValueError, KeyError, jwt.PyJWKError) as exc:
            raise SigningError(f"{path}: not a usable private JWK ({exc})") from None
    else:
        try:
            key = serialization.load_pem_private_key(raw, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise SigningError(f"{path}: only EC (P-384) and RSA keys can sign CDS Hooks tokens")
    return key, kid


def default_algorithm(key: PrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        try:
            return _EC_ALGORITHMS[key.curve.name]
        except KeyError:
            raise SigningError(f"unsupported EC curve {key.curve.name}") from None
    return "RS384"


@dataclass(frozen=True)
class Signer:
    key: PrivateKey
    issuer: str
    kid: str
    algorithm: str
    jku: str | None = None

    @classmethod
    def from_file(
        cls,
        path: Path,
        issuer: str,
        *,
        kid: str | None = None,
        algorithm: str | None = None,
        jku: str | None = None,
    ) -> Signer:
        key, file_kid = load_private_key(path)
        chosen = algorithm or default_algorithm(key)
        expected_family = "ES" if isinstance(key, ec.EllipticCurvePrivateKey) else ("RS", "PS")
        if not chosen.startswith(expected_family):
            raise SigningError(f"algorithm {chosen} does not fit a {type(key).__name__}")
        return cls(
            key=key,
            issuer=issuer,
            kid=kid or file_kid or thumbprint(public_jwk(key)),
            algorithm=chosen,
            jku=jku,
        )

    def token(self, audience: str, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        headers: dict[str, Any] = {"typ": "JWT", "kid": self.kid}
        if self.jku:
            headers["jku"] = self.jku
        return jwt.encode(claims, self.key, algorithm=self.algorithm, headers=headers)

    def public_jwks(self) -> dict[str, Any]:
        jwk = {**public_jwk(self.key), "kid": self.kid, "alg": self.algorithm, "use": "sig"}
        return {"keys": [jwk]}
