from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from tests.support.paths import load_recording
from tests.support.ports import refusing_port


@pytest.fixture(autouse=True)
def _local_testing_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run in the documented local-testing mode (no JWT, loopback clients only).

    Set through the environment, as an operator would, so tests that call create_app()
    themselves get it too; tests of authentication turn it off (AUTH_DISABLED=False).
    """
    monkeypatch.setenv("MCAS_AUTH_DISABLED", "true")


@pytest.fixture
def app() -> Iterator[Flask]:
    yield create_app({"TESTING": True, "AUTH_DISABLED": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def sandbox_hook() -> dict[str, Any]:
    """The CDS Hooks Sandbox's recorded patient-view call: method, path, headers, body."""
    return load_recording("hook-request.json")


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port where connections are refused for the whole test (nothing listens)."""
    with refusing_port() as port:
        yield port


pytest_plugins = ["tests.support.system_parts", "tests.support.storage_fixtures"]

# Fixtures that start a server in another process (PostgreSQL, sekmet-fhir): a test that
# uses one, directly or through another fixture, is an integration test, and so is every
# test parametrized onto the PostgreSQL backend (its fixtures ask for the server late).
SERVER_FIXTURES = frozenset({"postgres_server", "fresh_postgres_url", "fhir_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and callspec.params.get("backend") == "postgresql"
        if on_postgresql or SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True, scope="session")
def _data_dir_outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Apps made by tests keep their SQLite database and salt in a temporary directory."""
    import os

    previous = os.environ.get("MCAS_DATA_DIR")
    os.environ["MCAS_DATA_DIR"] = str(tmp_path_factory.mktemp("mcas-data"))
    yield
    if previous is None:
        os.environ.pop("MCAS_DATA_DIR", None)
    else:
        os.environ["MCAS_DATA_DIR"] = previous
