"""A small HTTP server on 127.0.0.1 for the faults a real FHIR server will not produce
(slowness, 502/503, dropped connections, redirects, Bundles with error entries), and a
recorder that proves what was, or was not, sent to a host.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: the fallback opens one connection per
    # prefetch key at once (seven), and on a loaded machine the extra connects were
    # refused before the accept loop caught up ("could not be reached", a flaky test).
    request_queue_size = 64


@dataclass
class Seen:
    method: str
    path: str  # with the raw query string, exactly as received
    headers: dict[str, str]
    client_port: int


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # a dict is sent as FHIR JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering
    trickle: float = 0.0  # seconds between the body's bytes (the headers go at once)


Responder = Callable[[Seen], Reply]


def _empty_bundle(_: Seen) -> Reply:
    return Reply(body={"resourceType": "Bundle", "type": "searchset", "entry": []})


class LoopbackServer:
    def __init__(self, respond: Responder = _empty_bundle) -> None:
        self.respond = respond
        self.seen: list[Seen] = []
        # Requests being answered now; one whose client went away ends at its next write.
        self.answering = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible

            def do_GET(self) -> None:
                with owner._lock:
                    owner.answering += 1
                try:
                    self._answer()
                finally:
                    with owner._lock:
                        owner.answering -= 1

            def _answer(self) -> None:
                seen = Seen(
                    "GET",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.client_address[1],
                )
                owner.seen.append(seen)
                reply = owner.respond(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    return
                payload = (
                    b""
                    if reply.body is None
                    else (
                        json.dumps(reply.body).encode()
                        if isinstance(reply.body, dict | list)
                        else reply.body
                    )
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/fhir+json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if not reply.trickle:
                        self.wfile.write(payload)
                    for index in range(len(payload) if reply.trickle else 0):
                        self.wfile.write(payload[index : index + 1])
                        self.wfile.flush()
                        time.sleep(reply.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its deadline passed)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.origin}/fhir"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
