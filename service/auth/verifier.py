"""Verify the CDS client's bearer JWT (CDS Hooks 2.0 "Trusting CDS Clients").

Pure: no Flask. The caller gives the Authorization header, the URL that was called and
"now"; the answer is the verified claims or ``InvalidToken`` whose reason is for the log
only (the caller learns just that the token is invalid).
"""

from __future__ import annotations

import binascii
import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.utils import base64url_decode

from service.auth.keys import JkuCache, KeyNotFound, find_key
from service.auth.trust import TrustedIssuer

# Asymmetric algorithms an administrator may enable; `none` and HS* never (spec 201, 203).
ENABLEABLE_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
# Verification keys built from JWKs, kept per key: building one (parsing the JWK, checking
# the point is on the curve) cost as much as a third of a typical request's verification.
_MAX_CACHED_KEYS = 64


class InvalidToken(Exception):
    """The request's token is missing or not acceptable; ``reason`` goes to the log only."""

    def __init__(self, reason: str, claimed: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # What the token claims (unverified `iss`, `aud`), for the log line that must say
        # what would fix the refusal; never the token itself.
        self.claimed: dict[str, Any] = dict(claimed or {})


@dataclass(frozen=True)
class VerifiedToken:
    iss: str
    jti: str
    exp: float
    sub: str | None
    tenant: str | None


class TokenVerifier:
    def __init__(
        self,
        issuers: Mapping[str, TrustedIssuer],
        *,
        algorithms: frozenset[str],
        leeway: float,
        jku_cache: JkuCache,
        max_lifetime: float = 300.0,
    ) -> None:
        bad = algorithms - ENABLEABLE_ALGORITHMS
        if bad:
            raise ValueError(f"algorithms not allowed: {sorted(bad)}")
        self._issuers = dict(issuers)
        self._algorithms = algorithms
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._jku_cache = jku_cache
        # (alg, the JWK as canonical JSON) -> its verification key. Keyed by the whole JWK,
        # not the kid alone, so a key set fetched again with other key material under the
        # same kid is never verified against the old key.
        self._keys: dict[tuple[str, str], jwt.PyJWK] = {}
        self._keys_lock = threading.Lock()

    def verify(self, authorization: str | None, audience: str, now: float) -> VerifiedToken:
        token = _bearer_token(authorization)
        try:
            return self._verify(token, audience, now)
        except InvalidToken as exc:
            # What the token claims is read only for the log of a refusal.
            exc.claimed = _claimed(token)
            raise
        except KeyNotFound as exc:
            raise InvalidToken(str(exc), _claimed(token)) from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"{type(exc).__name__}: {exc}", _claimed(token)) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # Odd but well-formed JSON (a list as header, a number as kid) must be a 401,
            # never a 500: the token is the caller's input.
            raise InvalidToken(
                f"unusable token structure ({type(exc).__name__})", _claimed(token)
            ) from None

    def _key(self, jwk: dict[str, Any], alg: str) -> jwt.PyJWK:
        cache_key = (alg, json.dumps(jwk, sort_keys=True, separators=(",", ":")))
        key = self._keys.get(cache_key)
        if key is None:
            key = jwt.PyJWK(jwk, algorithm=alg)
            with self._keys_lock:
                if len(self._keys) >= _MAX_CACHED_KEYS:
                    self._keys.clear()  # rotations are rare: start again, never grow
                self._keys[cache_key] = key
        return key

    def _verify(self, token: str, audience: str, now: float) -> VerifiedToken:
        header, unverified = _unverified_parts(token)
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise InvalidToken(f"algorithm {str(alg)[:16]!r} is not accepted")
        typ = header.get("typ")
        if typ is not None and str(typ).upper() != "JWT":
            raise InvalidToken("typ is not JWT")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise InvalidToken("no kid in the header")

        # The issuer picks the key source, so it is read before the signature is checked;
        # nothing else from the unverified payload is trusted.
        iss = unverified.get("iss")
        if not isinstance(iss, str) or (issuer := self._issuers.get(iss)) is None:
            raise InvalidToken("issuer is not trusted")

        jwk = find_key(issuer, header, self._jku_cache)
        _check_key_fits(jwk, alg)
        claims = jwt.decode(
            token,
            key=self._key(jwk, alg),
            algorithms=[alg],
            audience=audience,
            issuer=iss,
            options={
                "require": ["iss", "aud", "exp", "iat", "jti"],
                # Time is checked below against the injected clock.
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "strict_aud": False,
            },
        )
        self._check_times(claims, now)
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise InvalidToken("jti is not a non-empty string")
        tenant = claims.get("tenant")
        if issuer.tenants is not None and tenant not in issuer.tenants:
            raise InvalidToken("tenant is not on the issuer's allowlist")
        sub = claims.get("sub")
        return VerifiedToken(
            iss=iss,
            jti=jti,
            exp=float(claims["exp"]),
            sub=sub if isinstance(sub, str) else None,
            tenant=tenant if isinstance(tenant, str) else None,
        )

    def _check_times(self, claims: dict[str, Any], now: float) -> None:
        for name in ("exp", "iat", "nbf"):
            if name in claims and not _is_number(claims[name]):
                raise InvalidToken(f"{name} is not a number")
        if claims["exp"] <= now - self._leeway:
            raise InvalidToken("token has expired")
        if claims["iat"] > now + self._leeway:
            raise InvalidToken("iat is in the future")
        if "nbf" in claims and claims["nbf"] > now + self._leeway:
            raise InvalidToken("token is not valid yet (nbf)")
        # CDS Hooks advises tokens of five minutes; a longer one is refused, so no `jti`
        # stays in the replay cache longer than that (iat is required: see decode above).
        lifetime = claims["exp"] - claims["iat"]
        if lifetime > self._max_lifetime + self._leeway:
            raise InvalidToken(
                f"token lifetime too long: exp - iat is {lifetime:.0f} s, more than "
                f"MCAS_JWT_MAX_LIFETIME_SECONDS ({self._max_lifetime:.0f} s) + leeway"
            )


_CLAIMED_MAX = 200


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload as sent, read once to choose the issuer and the key.

    Nothing read here is trusted: PyJWT's ``decode`` then reads the same bytes again and
    checks the signature over them, the algorithm against the one chosen here, and the
    claims. One plain read instead of PyJWT's two unverified ones (header, then payload
    with its claim checks) (issue 18). Malformed input raises PyJWT's ``DecodeError``,
    as before: the refusal is logged and counted as malformed.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise jwt.DecodeError("Not enough segments" if len(parts) < 3 else "Too many segments")
    try:
        header = json.loads(base64url_decode(parts[0]))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise jwt.DecodeError(f"Invalid header ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise jwt.DecodeError("Invalid header string: must be a json object")
    try:
        payload = json.loads(base64url_decode(parts[1]))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise jwt.DecodeError(f"Invalid payload ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise jwt.DecodeError("Invalid payload string: must be a json object")
    return header, payload


def _claimed(token: str) -> dict[str, Any]:
    """The token's unverified `iss` and `aud` (strings, shortened), or nothing readable.

    Only for the log of a refusal: which issuer sent it and which URL it was minted for
    are what an operator needs to fix a misconfiguration; nothing here is trusted.
    """
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except Exception:  # any unreadable payload: there is simply nothing to report
        return {}
    if not isinstance(payload, dict):
        return {}
    found: dict[str, Any] = {}
    iss = payload.get("iss")
    if isinstance(iss, str):
        found["iss"] = iss[:_CLAIMED_MAX]
    aud = payload.get("aud")
    if isinstance(aud, str):
        found["aud"] = aud[:_CLAIMED_MAX]
    elif isinstance(aud, list):
        found["aud"] = [a[:_CLAIMED_MAX] for a in aud[:5] if isinstance(a, str)]
    return found


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise InvalidToken("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Authorization is not a Bearer token")
    return token.strip()


def _check_key_fits(jwk: dict[str, Any], alg: str) -> None:
    """The key must be meant for the header's algorithm: no cross-family tricks."""
    if "alg" in jwk and jwk["alg"] != alg:
        raise InvalidToken("the key's alg differs from the token's alg")
    if alg.startswith("ES"):
        if jwk.get("kty") != "EC" or jwk.get("crv") != _CURVES[alg]:
            raise InvalidToken("the key does not fit the token's alg")
    elif jwk.get("kty") != "RSA":
        raise InvalidToken("the key does not fit the token's alg")
