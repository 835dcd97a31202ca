"""Snoozes across processes (issue 14): an override taken by one gunicorn worker or one
app instance snoozes the card for every other one, because the decision is read from
the shared database (SQLite for the workers of one host, PostgreSQL for replicas)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from service import create_app
from tests.support.gunicorn import Gunicorn
from tests.support.snooze import (
    FEEDBACK,
    HOOK,
    card_of,
    override,
    sandbox_body,
    topics,
    with_new_episode,
)
from tests.support.storage_fixtures import SALT

pytestmark = pytest.mark.integration


def test_two_app_instances_sharing_postgresql(
    fresh_postgres_url: Any, tmp_path: Path
) -> None:
    url = fresh_postgres_url(True)
    config: dict[str, Any] = {
        "TESTING": True,
        "AUTH_DISABLED": True,
        "DATABASE_URL": url,
        "PATIENT_HASH_SALT": SALT,
        "CLOCK": lambda: datetime(2026, 11, 25, 11, 44, 42, tzinfo=UTC),
        "SNOOZE_READ_BUDGET_MS": 2000,  # a loaded test machine; the budget has its own tests
    }
    first: Flask = create_app({**config, "DATA_DIR": str(tmp_path / "a")})
    second: Flask = create_app({**config, "DATA_DIR": str(tmp_path / "b")})
    try:
        answered = first.test_client().post(HOOK, json=sandbox_body())
        assert topics(answered) == ["tier-2", "albuterol"]
        override(second, card_of(answered, "tier-2")["uuid"])  # feedback to the other one
        for app in (second, first):
            assert topics(app.test_client().post(HOOK, json=sandbox_body())) == ["albuterol"]
        back = second.test_client().post(HOOK, json=with_new_episode(sandbox_body()))
        assert topics(back) == ["tier-2", "albuterol"]
    finally:
        for app in (first, second):
            app.extensions["mcas_storage"].dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_gunicorn_workers(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {
        "MCAS_DATA_DIR": str(tmp_path / "data"),
        "MCAS_PATIENT_HASH_SALT": SALT,
        "MCAS_LOG_LEVEL": "WARNING",
        "MCAS_SNOOZE_READ_BUDGET_MS": "2000",  # as above
    }
    if database == "postgresql":
        env["MCAS_DATABASE_URL"] = request.getfixturevalue("fresh_postgres_url")(True)
    server = Gunicorn(env, tmp_path, workers=2)
    try:
        assert len(server.worker_pids()) == 2

        def fire(body: dict[str, Any]) -> list[str]:
            answer = requests.post(server.base + HOOK, json=body, timeout=30)
            assert answer.status_code == 200, answer.text
            return [c["source"]["topic"]["code"] for c in answer.json()["cards"]]

        answer = requests.post(server.base + HOOK, json=sandbox_body(), timeout=30)
        assert answer.status_code == 200
        tier2 = next(c for c in answer.json()["cards"]
                     if c["source"]["topic"]["code"] == "tier-2")
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        stored = requests.post(server.base + FEEDBACK, timeout=30, json={"feedback": [
            {"card": tier2["uuid"], "outcome": "overridden", "outcomeTimestamp": stamp}]})
        assert stored.status_code == 200 and stored.json()["stored"] == 1
        # Whichever worker answers, the card stays snoozed.
        for _ in range(8):
            assert "tier-2" not in fire(sandbox_body())
        assert "tier-2" in fire(with_new_episode(sandbox_body()))
    finally:
        server.stop()
