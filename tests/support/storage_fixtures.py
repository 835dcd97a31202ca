"""Fixtures for the storage tests: both backends, a real PostgreSQL, apps wired to them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine

from service import create_app
from service.storage.database import database_url
from service.storage.migrate import upgrade
from tests.support.postgres import PostgresServer

TEMPLATE_DB = "mcas_template"
SALT = "test-salt-0123456789abcdef"
ADMIN_TOKEN = "admin-token-" + "x" * 32
NOW = datetime(2026, 11, 25, 11, 44, 40, tzinfo=UTC)
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the session, with a migrated template database to copy."""
    server = PostgresServer()
    try:
        server.start()
        server.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        engine = create_engine(
            server.url(TEMPLATE_DB).replace("postgresql:", "postgresql+psycopg:")
        )
        upgrade(engine)
        engine.dispose()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[Callable[[bool], str]]:
    """Make empty or migrated databases on the session server; dropped afterwards."""
    made: list[str] = []

    def make(migrated: bool = True) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        template = f" TEMPLATE {TEMPLATE_DB}" if migrated else ""
        postgres_server.execute(f"CREATE DATABASE {name}{template}")
        made.append(name)
        return postgres_server.url(name)

    yield make
    for name in made:
        postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def storage_config(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for an app on a fresh, migrated database of the parametrized backend."""
    config: dict[str, Any] = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path / "data"),
        "PATIENT_HASH_SALT": SALT,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "CLOCK": lambda: NOW,
    }
    if backend == "postgresql":
        make = request.getfixturevalue("fresh_postgres_url")
        config["DATABASE_URL"] = make(True)
    return config


@pytest.fixture
def storage_app(storage_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(storage_config)
    yield app
    app.extensions["mcas_storage"].dispose()


def engine_of(app: Flask) -> Any:
    with app.app_context():
        return app.extensions["mcas_storage"].engine()


def sqlalchemy_url(app: Flask) -> str:
    return database_url(app.config, app.instance_path).render_as_string(hide_password=False)
