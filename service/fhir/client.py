"""HTTP to the EHR's FHIR server: one pooled Session per process, timeouts, one retry.

Every call is bounded by the fallback's deadline as well as by its own timeouts, so a
slow server costs at most the deadline. Redirects are never followed: a redirect could
lead off the allowed server with the access token. Nothing here logs a URL (it carries
the patient id) or a header (it carries the token).
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from service.pipeline.prefetch import Unavailable

_RETRY_STATUSES = {502, 503, 504}
NOT_FOUND = object()  # a 404/410: for a read that is "no such resource", for a search an error

_session: requests.Session | None = None
_session_lock = threading.Lock()


def session() -> requests.Session:
    """The process's Session, created on first use (after any fork) and shared by threads."""
    global _session
    with _session_lock:
        if _session is None:
            _session = _new_session()
        return _session


def _new_session() -> requests.Session:
    # urllib3 logs every request line at DEBUG, and ours carry the patient id.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
    http_session = requests.Session()
    # Environment proxies and ~/.netrc credentials must not change where requests go or
    # what they carry; cookies must not carry one EHR user's session into another's call.
    http_session.trust_env = False
    http_session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=32, max_retries=0)
    http_session.mount("http://", adapter)
    http_session.mount("https://", adapter)
    return http_session


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def unavailable(self) -> Unavailable:
        return Unavailable(f"the FHIR server did not answer within the {self.seconds:g} s deadline")


@dataclass(frozen=True)
class ClientSettings:
    connect_timeout: float
    read_timeout: float
    max_response_bytes: int
    verify: bool | str = True


def get_json(url: str, *, token: str | None, settings: ClientSettings, deadline: Deadline) -> Any:
    """The parsed JSON at ``url``, ``NOT_FOUND``, or Unavailable with a reason safe to show."""
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for attempt in (1, 2):
        remaining = deadline.remaining()
        if remaining <= 0:
            raise deadline.unavailable()
        timeout = (min(settings.connect_timeout, remaining), min(settings.read_timeout, remaining))
        try:
            with session().get(
                url,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                verify=settings.verify,
                stream=True,
            ) as response:
                if response.status_code in _RETRY_STATUSES and attempt == 1:
                    continue
                return _read(response, settings.max_response_bytes)
        except requests.ReadTimeout:
            if deadline.remaining() <= 0:
                raise deadline.unavailable() from None
            raise Unavailable("the FHIR server did not answer in time") from None
        except requests.ConnectionError:
            if attempt == 1:
                continue
            raise Unavailable("the FHIR server could not be reached") from None
        except requests.RequestException as exc:
            raise Unavailable(f"the FHIR request failed ({type(exc).__name__})") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _read(response: requests.Response, limit: int) -> Any:
    status = response.status_code
    if status in (401, 403):
        raise Unavailable(
            f"the FHIR server refused access (HTTP {status}): the access token is missing, "
            "expired or does not grant read access to this data"
        )
    if 300 <= status < 400:
        raise Unavailable(
            f"the FHIR server answered with a redirect (HTTP {status}); redirects are not followed"
        )
    if status in (404, 410):
        return NOT_FOUND
    if status != 200:
        raise Unavailable(f"the FHIR server answered HTTP {status}")
    body = bytearray()
    for chunk in response.iter_content(chunk_size=65536):
        body.extend(chunk)
        if len(body) > limit:
            raise Unavailable(f"the FHIR server's answer is larger than {limit} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Unavailable("the FHIR server's answer is not JSON") from None
