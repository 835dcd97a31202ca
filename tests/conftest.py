from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_DIR = Path(__file__).resolve().parent / "real_clients" / "cds-hooks-sandbox"


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


def load_recording(name: str) -> Any:
    return json.loads((SANDBOX_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture
def sandbox_hook() -> dict[str, Any]:
    """The CDS Hooks Sandbox's recorded patient-view call: method, path, headers, body."""
    return load_recording("hook-request.json")


pytest_plugins = ["tests.support.system_parts", "tests.support.storage_fixtures"]


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
