"""Issuers trusted by `jku` allowlist (spec 195, 199): keys fetched from a key server on
loopback, cached, fetched again on an unknown kid; a `jku` off the list is never fetched."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.auth_helpers import BASE, DISCOVERY, ISSUER, Signer, auth_app, bearer


class KeyServer:
    """A client's JWKS endpoint on 127.0.0.1: serves ``sets[path]``, counts requests."""

    def __init__(self) -> None:
        self.sets: dict[str, Any] = {}
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/jwks.json")
                    self.end_headers()
                    return
                document = server.sets.get(self.path)
                body = json.dumps(document).encode() if document is not None else b""
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join(timeout=5)


def jku_app(tmp_path: Path, key_server: KeyServer, **config: Any) -> Any:
    issuers = [{"iss": ISSUER, "jku": [key_server.url("/jwks.json"), key_server.url("/redirect")]}]
    return auth_app(tmp_path, issuers, **config).test_client()


def call(client: Any, token: str) -> int:
    return client.get(DISCOVERY, base_url=BASE, headers=bearer(token)).status_code


def test_allowlisted_jku_is_fetched_and_cached(tmp_path: Path, key_server: KeyServer) -> None:
    signer = Signer()
    key_server.sets["/jwks.json"] = signer.jwks()
    client = jku_app(tmp_path, key_server)
    jku = {"jku": key_server.url("/jwks.json")}
    assert call(client, signer.token(headers=jku)) == 200
    assert call(client, signer.token(headers=jku)) == 200
    assert key_server.hits == ["/jwks.json"]  # cached after the first fetch


def test_jku_off_the_allowlist_is_refused_and_not_fetched(
    tmp_path: Path, key_server: KeyServer
) -> None:
    signer = Signer()
    key_server.sets["/other.json"] = signer.jwks()
    client = jku_app(tmp_path, key_server)
    assert call(client, signer.token(headers={"jku": key_server.url("/other.json")})) == 401
    assert key_server.hits == []


def test_token_without_jku_for_a_jku_issuer_is_refused(
    tmp_path: Path, key_server: KeyServer
) -> None:
    signer = Signer()
    key_server.sets["/jwks.json"] = signer.jwks()
    assert call(jku_app(tmp_path, key_server), signer.token()) == 401


def test_unknown_kid_fetches_the_set_again(tmp_path: Path, key_server: KeyServer) -> None:
    old, new = Signer(), Signer()
    key_server.sets["/jwks.json"] = old.jwks()
    client = jku_app(tmp_path, key_server, JKU_MIN_REFRESH_SECONDS=0)
    jku = {"jku": key_server.url("/jwks.json")}
    assert call(client, old.token(headers=jku)) == 200
    # The client rotates its key: the new kid is unknown to our cache.
    key_server.sets["/jwks.json"] = {"keys": [old.public_jwk(), new.public_jwk()]}
    assert call(client, new.token(headers=jku)) == 200
    assert key_server.hits == ["/jwks.json", "/jwks.json"]


def test_unknown_kids_do_not_flood_the_key_server(tmp_path: Path, key_server: KeyServer) -> None:
    signer = Signer()
    key_server.sets["/jwks.json"] = signer.jwks()
    client = jku_app(tmp_path, key_server)  # default: refetch at most every 30 s
    jku = {"jku": key_server.url("/jwks.json")}
    assert call(client, signer.token(headers=jku)) == 200
    for _ in range(5):
        assert call(client, Signer().token(headers=jku)) == 401
    assert key_server.hits == ["/jwks.json"]


def test_redirects_are_not_followed(tmp_path: Path, key_server: KeyServer) -> None:
    signer = Signer()
    key_server.sets["/jwks.json"] = signer.jwks()
    client = jku_app(tmp_path, key_server)
    assert call(client, signer.token(headers={"jku": key_server.url("/redirect")})) == 401
    assert key_server.hits == ["/redirect"]


def test_key_server_down_is_a_401_not_a_500(tmp_path: Path, key_server: KeyServer) -> None:
    signer = Signer()
    client = jku_app(tmp_path, key_server)
    key_server.httpd.shutdown()
    key_server.httpd.server_close()
    response = client.get(
        DISCOVERY,
        base_url=BASE,
        headers=bearer(signer.token(headers={"jku": key_server.url("/jwks.json")})),
    )
    assert response.status_code == 401
    assert b"Traceback" not in response.data
