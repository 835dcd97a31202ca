"""SMART App Launch 2.0 discovery: ``<iss>/.well-known/smart-configuration``.

The document names the authorization and token endpoints and must list ``S256`` among
``code_challenge_methods_supported`` (PKCE is required by SMART 2.0 and by this app).
Redirects are not followed and the answer is read up to a small limit; an endpoint must
use https when ``iss`` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from service.timeline.errors import TimelineError

MAX_DOCUMENT_BYTES = 256 * 1024


@dataclass(frozen=True)
class SmartConfiguration:
    authorization_endpoint: str
    token_endpoint: str


def _endpoint(document: dict[str, object], name: str, iss: str) -> str:
    value = document.get(name)
    parts = urlsplit(value) if isinstance(value, str) else None
    secure_enough = parts is not None and (
        parts.scheme == "https" or (parts.scheme == "http" and urlsplit(iss).scheme == "http")
    )
    if parts is None or not secure_enough or not parts.hostname or parts.fragment:
        raise TimelineError(
            "discovery_invalid",
            f"The EHR's SMART configuration has no usable {name}.",
            502,
        )
    return str(value)


def discover(iss: str, http: requests.Session, timeout: float) -> SmartConfiguration:
    url = iss.rstrip("/") + "/.well-known/smart-configuration"
    unreachable = TimelineError(
        "discovery_failed",
        "The EHR's SMART configuration could not be read (the server did not answer, or "
        "answered with an error). Try the launch again; if it persists, tell the "
        "service's administrators.",
        502,
    )
    try:
        with http.get(
            url,
            headers={"Accept": "application/json"},
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise unreachable
            body = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
    except requests.RequestException:
        raise unreachable from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise unreachable
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise unreachable from None
    if not isinstance(document, dict):
        raise unreachable
    methods = document.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        raise TimelineError(
            "pkce_unsupported",
            "The EHR's authorization server does not announce PKCE with S256, which this "
            "app requires (SMART App Launch 2.0).",
            502,
        )
    return SmartConfiguration(
        authorization_endpoint=_endpoint(document, "authorization_endpoint", iss),
        token_endpoint=_endpoint(document, "token_endpoint", iss),
    )


def http_session() -> requests.Session:
    """A Session that ignores environment proxies, ~/.netrc and cookies."""
    session = requests.Session()
    session.trust_env = False
    return session
