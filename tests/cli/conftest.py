"""Real servers on loopback for the command-line tests: the Flask app served by werkzeug,
the sekmet-fhir FHIR server (a subprocess), and a tiny server answering whatever a test
needs (broken responses, capturing headers): faults the real service cannot produce.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.serving import make_server

from service import create_app
from service.cli import main
from service.cli.scaffold import create_fixture

from ..conftest import SANDBOX_DIR

# The recorded Sandbox call, evaluated at its recording instant (its README).
SANDBOX_EVALUATED_AT = "2026-11-25T11:44:40Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@pytest.fixture
def serve_app() -> Iterator[Callable[..., ServedApp]]:
    """Starts the real app on a free loopback port with the given test config."""
    started: list[ServedApp] = []

    def start(config: dict[str, Any] | None = None) -> ServedApp:
        served = ServedApp(config).__enter__()
        started.append(served)
        return served

    yield start
    for served in started:
        served.__exit__()


# The local-testing mode of `make run` / `mcas-cds serve`.
LOCAL_MODE = {"AUTH_DISABLED": True, "CORS_ORIGINS": "http://127.0.0.1:8080"}


@pytest.fixture
def live_service(serve_app: Callable[..., ServedApp]) -> str:
    return serve_app(LOCAL_MODE).url


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


@pytest.fixture
def canned() -> Iterator[CannedServer]:
    server = CannedServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """sekmet-fhir (from PyPI) on a free loopback port, with its own empty database.

    Open (no token) and validating, unlike tests/fhir_fallback's server: that is what the
    CDS Hooks Sandbox needs and what `fixtures load` must cope with (a strict server
    refuses resources that fail R4B validation).
    """
    executable = shutil.which("sekmet", path=str(Path(sys.executable).parent))
    assert executable, "sekmet-fhir is a dev dependency: pip install -e '.[dev]'"
    home = tmp_path_factory.mktemp("sekmet")
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    (home / "settings.yaml").write_text(
        json.dumps(
            {
                "base_url": base,
                "host": "127.0.0.1",
                "port": port,
                "data_dir": str(home / "data"),
                "simulator": {"enabled": False},
                "log_inbound": False,
            }
        )
    )
    log = (home / "server.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEKMET_")}
    process = subprocess.Popen(
        [executable, "serve", "-c", str(home / "settings.yaml")],
        cwd=home, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/metadata", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sekmet did not start: {(home / 'server.log').read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def fixtures_dir(tmp_path: Path) -> Path:
    """A fixture library holding one scaffolded patient: out of scope, no cards."""
    directory = tmp_path / "fixtures"
    create_fixture(directory, "out-of-scope", patient_id="oos-1")
    return directory


def add_sandbox_fixture(directory: Path) -> Path:
    """The patient the CDS Hooks Sandbox sent (recorded), as a fixture: MCAS on H1 and H2
    since 2026-06-28, two anaphylaxis episodes since, LTE4 elevated, wheezing, no albuterol."""
    recording = json.loads((SANDBOX_DIR / "hook-request.json").read_text(encoding="utf-8"))
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


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture(scope="session")
def ec_key_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path_factory.mktemp("keys") / "ec384.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture(scope="session")
def rsa_key_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("keys") / "rsa.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path
