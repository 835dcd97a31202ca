"""Where a token's verification key comes from: a trusted issuer's JWKS file or its `jku`.

Fetched key sets are cached per URL (per process) and fetched again when a token names a
`kid` the cached set does not hold, at most once per `min_refresh` so a stream of made-up
kids cannot turn us into a flood against the client's key server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from service.auth.trust import TrustedIssuer, parse_jwks

# A JWK Set is a few kilobytes; anything far larger is not one.
_MAX_JWKS_BYTES = 256 * 1024


class KeyNotFound(Exception):
    """No usable key for this token; the message is for the log only."""


@dataclass
class _Fetched:
    keys: tuple[dict[str, Any], ...]
    fetched_at: float


class JkuCache:
    def __init__(
        self,
        *,
        timeout: float,
        max_age: float,
        min_refresh: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = timeout
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._monotonic = monotonic
        self._sets: dict[str, _Fetched] = {}
        self._lock = threading.Lock()

    def key(self, url: str, kid: str) -> dict[str, Any]:
        now = self._monotonic()
        with self._lock:
            cached = self._sets.get(url)
        if cached is not None and now - cached.fetched_at < self._max_age:
            found = _by_kid(cached.keys, kid)
            if found is not None:
                return found
            if now - cached.fetched_at < self._min_refresh:
                raise KeyNotFound(f"kid not in the key set fetched from {url} (not refetched yet)")
        fetched = _Fetched(self._fetch(url), now)
        with self._lock:
            self._sets[url] = fetched
        found = _by_kid(fetched.keys, kid)
        if found is None:
            raise KeyNotFound(f"kid not in the key set fetched from {url}")
        return found

    def _fetch(self, url: str) -> tuple[dict[str, Any], ...]:
        # No redirects: the allowlist names the URL the keys come from, not a first hop.
        try:
            with requests.get(
                url,
                timeout=self._timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept": "application/json"},
            ) as response:
                if response.status_code != 200:
                    raise KeyNotFound(f"fetching {url} answered HTTP {response.status_code}")
                body = response.raw.read(_MAX_JWKS_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise KeyNotFound(f"fetching {url} failed ({type(exc).__name__})") from None
        if len(body) > _MAX_JWKS_BYTES:
            raise KeyNotFound(f"the key set at {url} is too large")
        try:
            return parse_jwks(json.loads(body), strict=False)
        except ValueError as exc:
            raise KeyNotFound(f"the key set at {url} is unusable ({exc})") from None


def _by_kid(keys: tuple[dict[str, Any], ...], kid: str) -> dict[str, Any] | None:
    for key in keys:
        if key.get("kid") == kid:
            return key
    return None


def find_key(issuer: TrustedIssuer, header: dict[str, Any], jku_cache: JkuCache) -> dict[str, Any]:
    kid = header["kid"]
    if issuer.jwks is not None:
        # Keys come only from the administrator's file; a `jku` in the token is ignored.
        found = _by_kid(issuer.jwks, kid)
        if found is None:
            raise KeyNotFound("kid not in the issuer's configured JWKS file")
        return found
    jku = header.get("jku")
    if not isinstance(jku, str) or not jku:
        raise KeyNotFound("issuer is configured by jku allowlist but the token has no jku")
    if jku not in issuer.jku_allowlist:
        raise KeyNotFound("jku is not on the issuer's allowlist")
    return jku_cache.key(jku, kid)
