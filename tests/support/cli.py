"""Servers and data for the command-line tests: the Flask app served by werkzeug on
loopback, a tiny server answering whatever a test needs (broken responses, capturing
headers): faults the real service cannot produce, and the Sandbox's patient as a fixture.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from service import create_app
from tests.support.paths import SANDBOX_DIR

# The recorded Sandbox call, evaluated at its recording instant (its README).
SANDBOX_EVALUATED_AT = "2026-11-25T11:44:40Z"
# The Sandbox's patient (mcas-1) renamed under the test-patient prefix: like every
# fixture, test traffic, so the checks' overrides never snooze its cards (issue 14) in
# the database the session's apps share.
SANDBOX_TEST_PATIENT = "mcas-test-sandbox"


class ServedApp:
    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.app = create_app({"TESTING": True, **(config or {})})
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll interval: shutdown() waits for it, once per test.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ServedApp:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.thread.join(5)


# The local-testing mode of `make run` / `mcas-cds serve`.
LOCAL_MODE = {"AUTH_DISABLED": True, "CORS_ORIGINS": "http://127.0.0.1:8080"}


class Canned(BaseHTTPRequestHandler):
    """Answers every request with the server's canned (status, headers, body); records it."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server: Any = self.server
        server.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers),
             "body": body}
        )
        status, headers, payload = server.reply
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_OPTIONS = _answer

    def log_message(self, *_: object) -> None:
        pass


class CannedServer:
    def __init__(self) -> None:
        self.httpd: Any = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
        self.httpd.requests = []
        self.set(200, {"cards": []})
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def set(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.httpd.reply = (status, {"Content-Type": "application/json", **(headers or {})},
                            payload)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.httpd.requests

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def add_sandbox_fixture(directory: Path) -> Path:
    """The patient the CDS Hooks Sandbox sent (recorded), as a fixture: MCAS on H1 and H2
    since 2026-06-28, two anaphylaxis episodes since, LTE4 elevated, wheezing, no albuterol."""
    text = (SANDBOX_DIR / "hook-request.json").read_text(encoding="utf-8")
    recording = json.loads(
        text.replace('"mcas-1"', f'"{SANDBOX_TEST_PATIENT}"').replace(
            "Patient/mcas-1", f"Patient/{SANDBOX_TEST_PATIENT}")
    )
    path = directory / "sandbox-patient.json"
    path.write_text(
        json.dumps(
            {
                "description": "The patient the CDS Hooks Sandbox sent: MCAS on H1 and H2, "
                "two anaphylaxis episodes since, LTE4 elevated, wheezing, no albuterol.",
                "evaluatedAt": SANDBOX_EVALUATED_AT,
                "expectedTopics": ["tier-2", "albuterol"],
                "request": recording["body"],
            },
            indent=2,
        )
    )
    return path
