"""The trust file: which CDS clients (issuers) we accept, and where their keys come from.

Administrators write it; it is read and checked once at start-up so a typo stops the
service with a message naming the file and the entry, instead of refusing every call.

    issuers:
      - iss: https://ehr.example.org          # exact `iss` claim
        jwks_file: keys/ehr-jwks.json         # keys only from this file; `jku` ignored
        tenants: [hospital-a, hospital-b]     # optional: `tenant` claim must be one of these
      - iss: https://other-ehr.example.com
        jku:                                  # the token's `jku` must be one of these
          - https://other-ehr.example.com/.well-known/jwks.json
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.config_files import read_yaml


class TrustConfigError(ValueError):
    """The trust file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class TrustedIssuer:
    iss: str
    # Exactly one of the two key sources is set.
    jwks: tuple[dict[str, Any], ...] | None = None
    jku_allowlist: frozenset[str] = frozenset()
    tenants: frozenset[str] | None = None


def load_trust_file(path: Path) -> dict[str, TrustedIssuer]:
    raw = read_yaml(path, f"trust file {path}", TrustConfigError)
    if not isinstance(raw, dict) or not isinstance(raw.get("issuers"), list):
        raise TrustConfigError(f"trust file {path}: expected a mapping with an 'issuers' list")
    unknown = set(raw) - {"issuers"}
    if unknown:
        raise TrustConfigError(f"trust file {path}: unknown keys {sorted(unknown)}")
    issuers: dict[str, TrustedIssuer] = {}
    for index, entry in enumerate(raw["issuers"]):
        where = f"trust file {path}: issuers[{index}]"
        issuer = _issuer(entry, where, path.parent)
        if issuer.iss in issuers:
            raise TrustConfigError(f"{where}: issuer {issuer.iss!r} is listed twice")
        issuers[issuer.iss] = issuer
    return issuers


def _issuer(entry: Any, where: str, base: Path) -> TrustedIssuer:
    if not isinstance(entry, dict):
        raise TrustConfigError(f"{where}: expected a mapping with 'iss' and a key source")
    unknown = set(entry) - {"iss", "jwks_file", "jku", "tenants"}
    if unknown:
        raise TrustConfigError(f"{where}: unknown keys {sorted(unknown)}")
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss:
        raise TrustConfigError(f"{where}: 'iss' must be a non-empty string")
    where = f"{where} ({iss})"
    has_file, has_jku = "jwks_file" in entry, "jku" in entry
    if has_file == has_jku:
        raise TrustConfigError(f"{where}: give exactly one of 'jwks_file' and 'jku'")
    tenants = _string_list(entry["tenants"], f"{where}: 'tenants'") if "tenants" in entry else None
    if has_file:
        file_value = entry["jwks_file"]
        if not isinstance(file_value, str) or not file_value:
            raise TrustConfigError(f"{where}: 'jwks_file' must be a path")
        jwks = load_jwks_file(base / file_value, where)
        return TrustedIssuer(iss=iss, jwks=jwks, tenants=tenants)
    urls = _string_list(entry["jku"], f"{where}: 'jku'")
    if not urls:
        raise TrustConfigError(f"{where}: 'jku' must list at least one URL")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in {"https", "http"} or not parts.netloc:
            raise TrustConfigError(f"{where}: 'jku' entry {url!r} is not an http(s) URL")
    return TrustedIssuer(iss=iss, jku_allowlist=urls, tenants=tenants)


def _string_list(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TrustConfigError(f"{where} must be a list of non-empty strings")
    return frozenset(value)


def load_jwks_file(path: Path, where: str) -> tuple[dict[str, Any], ...]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrustConfigError(
            f"{where}: JWKS file {path} cannot be read ({exc.strerror})"
        ) from None
    except ValueError:
        raise TrustConfigError(f"{where}: JWKS file {path} is not JSON") from None
    try:
        return parse_jwks(document)
    except ValueError as exc:
        raise TrustConfigError(f"{where}: JWKS file {path}: {exc}") from None


def parse_jwks(document: Any, *, strict: bool = True) -> tuple[dict[str, Any], ...]:
    """The usable public keys of a JWK Set.

    strict (an administrator's file): an unusable key is an error to fix. Not strict (a
    fetched `jku`): a client's set may hold keys for other purposes; those are skipped.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("expected a JWK Set: an object with a 'keys' list")
    keys: list[dict[str, Any]] = []
    for key in document["keys"]:
        problem = _key_problem(key)
        if problem is None:
            keys.append(key)
        elif strict:
            raise ValueError(problem)
    return tuple(keys)


def _key_problem(key: Any) -> str | None:
    if not isinstance(key, dict) or not isinstance(key.get("kid"), str) or not key["kid"]:
        return "every key needs a string 'kid'"
    if key.get("kty") not in {"EC", "RSA"}:
        return f"key {key['kid']!r}: only EC and RSA public keys can be trusted"
    if "d" in key:
        return f"key {key['kid']!r} is a private key; publish the public part only"
    if key.get("use", "sig") != "sig":
        return f"key {key['kid']!r} is not a signature key (use={key.get('use')!r})"
    return None
