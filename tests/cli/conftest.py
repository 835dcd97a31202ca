"""Fixtures for the command-line tests: the Flask app served by werkzeug, the sekmet-fhir
FHIR server (a subprocess), a canned-answer server (tests/support/cli.py), keys, the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.cli import main
from service.cli.scaffold import create_fixture
from tests.support.cli import LOCAL_MODE, CannedServer, ServedApp
from tests.support.sekmet_server import SekmetServer


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
    """sekmet-fhir (from PyPI) on a loopback port, with its own empty database.

    Open (no token) and validating, unlike tests/fhir's server: that is what the
    CDS Hooks Sandbox needs and what `fixtures load` must cope with (a strict server
    refuses resources that fail R4B validation).
    """
    server = SekmetServer(tmp_path_factory.mktemp("sekmet"), secured=False)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


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
