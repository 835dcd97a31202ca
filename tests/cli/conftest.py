"""Fixtures for the command-line tests: the Flask app served by werkzeug, the sekmet-fhir
FHIR server (a subprocess), a canned-answer server (tests/support/cli.py), keys, the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.cli import main
from service.cli.scaffold import create_fixture
from tests.support.cli import LOCAL_MODE, CannedServer, ServedApp, free_port


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


@pytest.fixture
def live_service(serve_app: Callable[..., ServedApp]) -> str:
    return serve_app(LOCAL_MODE).url


@pytest.fixture
def canned() -> Iterator[CannedServer]:
    server = CannedServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """sekmet-fhir (from PyPI) on a free loopback port, with its own empty database.

    Open (no token) and validating, unlike tests/fhir's server: that is what the
    CDS Hooks Sandbox needs and what `fixtures load` must cope with (a strict server
    refuses malformed resources).
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
