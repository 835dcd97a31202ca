"""Every replica serves the active thresholds version within the refresh interval.

Two app instances on one database stand for two replicas (or two gunicorn workers):
one applies, the other must pick the version up within MCAS_THRESHOLDS_REFRESH_SECONDS,
cheaply (no query per hook), and keep its last good version when the database is down.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import event

from service import create_app
from service.scenarios.fixtures import FIXTURES_DIR, load_fixture, request_for
from service.thresholds.source import ActiveThresholds
from tests.support.gunicorn import Gunicorn
from tests.support.postgres import database_name
from tests.support.storage_fixtures import ADMIN_TOKEN, SALT, engine_of
from tests.support.thresholds_admin import (
    ADMIN,
    API,
    TIER2_FIXTURE,
    apply,
    card_versions,
    fire,
    get,
    with_tier1,
)


class FakeClock:
    """The provider's monotonic clock, moved by the test (time is not a fault to mock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def replicas(storage_config: dict[str, Any]) -> Iterator[tuple[Flask, Flask, FakeClock]]:
    config = {**storage_config, "THRESHOLDS_REFRESH_SECONDS": 5.0}
    first, second = create_app(config), create_app(config)
    clock = FakeClock()
    provider = second.extensions["mcas"].thresholds
    assert isinstance(provider, ActiveThresholds)
    provider._clock = clock
    yield first, second, clock
    for app in (first, second):
        app.extensions["mcas_storage"].dispose()


def thresholds_queries(app: Flask) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM thresholds_" in statement:
            seen.append(statement)

    event.listen(engine_of(app), "before_cursor_execute", record)
    return seen


def test_another_replica_serves_the_new_version_within_the_interval(
    replicas: tuple[Flask, Flask, FakeClock],
) -> None:
    first, second, clock = replicas
    file_version = get(first)["version"]
    assert card_versions(fire(second)) == {file_version}  # reads the pointer once

    applied = apply(first, with_tier1(180), file_version).get_json()
    assert card_versions(fire(first)) == {applied["version"]}  # the applier at once

    clock.now += 4.9  # within the interval the replica still serves its copy
    assert card_versions(fire(second)) == {file_version}
    clock.now += 0.2  # past it: the next hook re-reads the pointer
    assert card_versions(fire(second)) == {applied["version"]}

    rolled = apply(first, with_tier1(28), applied["version"]).get_json()
    clock.now += 5.1
    assert card_versions(fire(second)) == {rolled["version"]}


def test_the_hook_path_queries_at_most_once_per_interval(
    replicas: tuple[Flask, Flask, FakeClock],
) -> None:
    first, second, clock = replicas
    fire(second)
    queries = thresholds_queries(second)
    for _ in range(5):
        fire(second)
    assert queries == []  # fresh copy: a clock comparison, no query
    clock.now += 6
    fire(second)
    fire(second)
    # Stale once: one small query for the pointer; the pointer has not moved, so no more.
    assert len(queries) == 1 and "thresholds_active" in queries[0]
    apply(first, with_tier1(180), get(first)["version"])
    clock.now += 6
    fire(second)
    # The pointer moved: the pointer, then the new version's values, once.
    assert len(queries) == 3 and "thresholds_versions" in queries[2]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_replica_keeps_the_last_good_version_while_the_database_is_down(
    replicas: tuple[Flask, Flask, FakeClock], request: pytest.FixtureRequest
) -> None:
    first, second, clock = replicas
    applied = apply(first, with_tier1(180), get(first)["version"]).get_json()
    clock.now += 6
    assert card_versions(fire(second)) == {applied["version"]}

    server = request.getfixturevalue("postgres_server")
    name = database_name(second.config["DATABASE_URL"])
    server.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    server.execute(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    )
    failures = REGISTRY.get_sample_value(
        "mcas_storage_failures_total", {"operation": "read_thresholds"}) or 0.0
    try:
        clock.now += 6
        # The pointer cannot be read: the hook still answers, with the last good version.
        assert card_versions(fire(second)) == {applied["version"]}
        assert REGISTRY.get_sample_value(
            "mcas_storage_failures_total", {"operation": "read_thresholds"}) == failures + 1
        # The administrator API says the database is down rather than guessing.
        response = second.test_client().get(API, headers=ADMIN)
        assert response.status_code == 503
    finally:
        server.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    rolled = apply(first, with_tier1(28), applied["version"]).get_json()
    clock.now += 6
    assert card_versions(fire(second)) == {rolled["version"]}


@pytest.mark.integration
def test_gunicorn_workers_serve_an_applied_version_within_the_interval(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Three worker processes, as deployed: each holds its own copy of the version."""
    env = {
        "MCAS_DATA_DIR": str(tmp_path / "data"),
        "MCAS_PATIENT_HASH_SALT": SALT,
        "MCAS_ADMIN_TOKEN": ADMIN_TOKEN,
        "MCAS_THRESHOLDS_REFRESH_SECONDS": "1",
        "MCAS_LOG_LEVEL": "WARNING",
    }
    if backend == "postgresql":
        env["MCAS_DATABASE_URL"] = request.getfixturevalue("fresh_postgres_url")(True)
    server = Gunicorn(env, tmp_path, workers=3)
    try:
        fixture = load_fixture(FIXTURES_DIR / f"{TIER2_FIXTURE}.json")

        def versions(count: int = 15) -> set[str]:
            seen: set[str] = set()
            for _ in range(count):
                body = request_for(fixture, datetime.now(UTC))
                answer = requests.post(
                    server.base + "/cds-services/mcas-therapy-tier", json=body, timeout=30
                )
                assert answer.status_code == 200
                seen |= card_versions(answer.json()["cards"])
            return seen

        active = requests.get(server.base + API, headers=ADMIN, timeout=30).json()
        assert versions() == {active["version"]}
        applied = requests.post(
            server.base + API + "/apply",
            json={"values": with_tier1(180), "base_version": active["version"],
                  "author": "Dr A", "reason": "replica test"},
            headers=ADMIN,
            timeout=30,
        )
        assert applied.status_code == 201, applied.text
        applied_at = time.monotonic()
        new_version = applied.json()["version"]
        assert versions() <= {active["version"], new_version}
        time.sleep(max(0.0, applied_at + 1.2 - time.monotonic()))
        assert versions() == {new_version}
    finally:
        server.stop()
