"""HTTP calls to a CDS service, as an EHR makes them: JSON in and out, optionally a signed
JWT whose ``aud`` is exactly the URL called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from service.cdshooks.discovery import SERVICE_ID
from service.cli.signing import Signer

DEFAULT_TIMEOUT = 30.0
USER_AGENT = "mcas-cds-cli"


class UsageError(Exception):
    """Bad command-line input; the message is meant for the user."""


@dataclass(frozen=True)
class Endpoints:
    base: str

    @property
    def discovery(self) -> str:
        return f"{self.base}/cds-services"

    def service(self, service_id: str = SERVICE_ID) -> str:
        return f"{self.discovery}/{service_id}"

    def feedback(self, service_id: str = SERVICE_ID) -> str:
        return f"{self.service(service_id)}/feedback"


def named_service(url: str) -> str | None:
    """The service id the URL names (…/cds-services/<id>), or None when it names none."""
    path = urlsplit(url).path.rstrip("/")
    tail = path.partition("/cds-services")[2].strip("/")
    return tail.split("/")[0] if tail else None


def split_url(url: str) -> tuple[Endpoints, str]:
    """The base URL and service id of whatever the user typed: base, discovery or service."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise UsageError(f"'{url}' is not an http(s) URL")
    if parts.query or parts.fragment:
        raise UsageError(f"'{url}': give the URL without a query or fragment")
    path = parts.path.rstrip("/")
    service_id = SERVICE_ID
    marker = "/cds-services"
    if marker in path:
        head, _, tail = path.partition(marker)
        tail = tail.strip("/")
        if tail:
            service_id = tail.split("/")[0]
        path = head
    return Endpoints(f"{parts.scheme}://{parts.netloc}{path}"), service_id


@dataclass
class Reply:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    error: str | None = None  # connection failure, timeout

    def json(self) -> Any:
        return json.loads(self.body)

    def outcome_messages(self) -> list[str]:
        """The diagnostics of an OperationOutcome body, else a short excerpt of the body."""
        try:
            data = self.json()
        except ValueError:
            text = self.body[:300].decode("utf-8", "replace").strip()
            return [text] if text else []
        if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
            return [
                str(i.get("diagnostics") or i.get("details", {}).get("text") or i.get("code"))
                for i in data.get("issue") or []
                if isinstance(i, dict)
            ]
        return [json.dumps(data)[:300]]


class Client:
    def __init__(self, signer: Signer | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.signer = signer
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def headers(self, url: str, *, body: bool, token: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if body:
            headers["Content-Type"] = "application/json"
        if token is None and self.signer is not None:
            token = self.signer.token(url)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def request(
        self,
        method: str,
        url: str,
        *,
        payload: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> Reply:
        sent = self.headers(url, body=payload is not None, token=token) if signed else {}
        if not signed and payload is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        try:
            response = self.session.request(
                method, url, data=data, headers=sent, timeout=self.timeout, allow_redirects=False
            )
        except requests.Timeout:
            return Reply(url, 0, {}, b"", error=f"no answer within {self.timeout:g} s")
        except requests.ConnectionError as exc:
            reason = exc.args[0] if exc.args else exc
            return Reply(url, 0, {}, b"", error=f"cannot connect ({short_reason(reason)})")
        return Reply(url, response.status_code, dict(response.headers), response.content)


def short_reason(reason: Any) -> str:
    text = str(reason)
    # urllib3 wraps the useful part ("Connection refused") deep inside its message.
    for marker in ("Connection refused", "Name or service not known", "timed out"):
        if marker in text:
            return marker
    return text[:120]
