"""Nothing lost (issue 5): concurrent workers, a worker killed mid-request, a database down.

Each runs the service under gunicorn with several sync workers, on SQLite and on a real
PostgreSQL, and counts the rows afterwards.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine, func, select

from service import create_app
from service.storage.issued import recording_failures
from service.storage.migrate import upgrade
from service.storage.models import feedback, issued_cards
from tests.support.cards import answer_with, card, hook_body
from tests.support.gunicorn import Gunicorn
from tests.support.postgres import PostgresServer
from tests.support.storage_fixtures import SALT

pytestmark = pytest.mark.integration  # gunicorn workers, a real PostgreSQL

FEEDBACK_PATH = "/cds-services/mcas-therapy-tier/feedback"
START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def items(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "card": f"{prefix}-{n // 2}",
            "outcome": "overridden",
            # Two distinct feedback items per card: different outcome instants.
            "outcomeTimestamp": (START + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
        }
        for n in range(count)
    ]


@pytest.fixture
def served(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    env = {
        "MCAS_DATA_DIR": str(tmp_path / "data"),
        "MCAS_PATIENT_HASH_SALT": SALT,
        "MCAS_LOG_LEVEL": "WARNING",
    }
    if backend == "postgresql":
        env["MCAS_DATABASE_URL"] = request.getfixturevalue("fresh_postgres_url")(True)
        url = env["MCAS_DATABASE_URL"].replace("postgresql:", "postgresql+psycopg:")
    else:
        url = f"sqlite:///{tmp_path / 'data' / 'mcas-cds.sqlite3'}"
    server = Gunicorn(env, tmp_path, workers=3)
    try:
        yield server, url
    finally:
        server.stop()


def count_rows(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            total = connection.execute(select(func.count()).select_from(feedback)).scalar_one()
            keys = connection.execute(
                select(func.count(func.distinct(feedback.c.item_key)))
            ).scalar_one()
        return total, keys
    finally:
        engine.dispose()


def test_concurrent_feedback_from_several_workers_is_stored_exactly_once(served: Any) -> None:
    server, url = served
    distinct = items("conc", 120)
    # Every item three times, in batches of different sizes and orders, all at once.
    sends = [distinct[i : i + 7] for i in range(0, 120, 7)]
    sends += [distinct[i : i + 3] for i in range(0, 120, 3)]
    sends += [[item] for item in reversed(distinct)]

    def send(batch: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        response = requests.post(server.base + FEEDBACK_PATH, json={"feedback": batch}, timeout=30)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, sends))
    statuses = {status for status, _ in results}
    assert statuses == {200}, [body for status, body in results if status != 200][:3]
    assert sum(body["stored"] for _, body in results) == len(distinct)
    assert sum(body["duplicates"] for _, body in results) == 2 * len(distinct)
    assert count_rows(url) == (len(distinct), len(distinct))


def _send_until_stored(base: str, batch: list[dict[str, Any]], log: dict[str, int]) -> None:
    """An EHR that retries until the service says 200."""
    for attempt in itertools.count():
        try:
            response = requests.post(base + FEEDBACK_PATH, json={"feedback": batch}, timeout=30)
            if response.status_code == 200:
                return
            assert response.status_code == 503, response.text
        except requests.ConnectionError:
            pass
        log["failed_attempts"] += 1
        assert attempt < 50, "feedback never stored"
        time.sleep(0.1)


def test_a_worker_killed_mid_request_loses_nothing(served: Any) -> None:
    server, url = served
    distinct = items("kill", 1200)
    batches = [distinct[i : i + 40] for i in range(0, 1100, 40)]
    held = distinct[1100:]  # sent by hand, half-way, to a worker we then kill
    log = {"failed_attempts": 0}

    body = json.dumps({"feedback": held}).encode()
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    raw.sendall(
        b"POST " + FEEDBACK_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body[: len(body) // 2]
    )
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(_send_until_stored, server.base, b, log) for b in batches]
        time.sleep(0.3)  # the held request sits in a worker, reading its body
        killed = server.kill_workers()
        assert len(killed) == 3
        time.sleep(0.2)
        server.kill_workers()  # and once more while the EHR's retries are landing
        for future in futures:
            future.result()
    try:
        raw.sendall(body[len(body) // 2 :])
        answer = raw.recv(65536)
    except OSError:
        answer = b""
    finally:
        raw.close()
    assert not answer.startswith(b"HTTP/1.1 200"), "a killed worker cannot have answered"
    _send_until_stored(server.base, held, log)  # the EHR's retry of the failed request
    assert count_rows(url) == (len(distinct), len(distinct))


def test_postgresql_stopped_and_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real outage: feedback gets 503 while the server is down, 200 once it is back."""
    server = PostgresServer()
    try:
        server.start()
        url = server.url()
        upgrade(create_engine(url.replace("postgresql:", "postgresql+psycopg:")))
        app: Flask = create_app(
            {
                "TESTING": True,
                "DATA_DIR": str(tmp_path),
                "DATABASE_URL": url,
                "PATIENT_HASH_SALT": SALT,
                "DB_TIMEOUT_SECONDS": 2,
            }
        )
        answer_with(monkeypatch, [card("tier-3")])
        client = app.test_client()
        item = {"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T09:00:00Z"}
        assert client.post(FEEDBACK_PATH, json={"feedback": [item]}).status_code == 200

        server.stop()
        failures = recording_failures()
        hook = client.post("/cds-services/mcas-therapy-tier", json=hook_body())
        assert hook.status_code == 200 and len(hook.get_json()["cards"]) == 1
        assert recording_failures() == failures + 1
        later = {**item, "outcomeTimestamp": "2026-11-25T09:05:00Z"}
        down = client.post(FEEDBACK_PATH, json={"feedback": [later]})
        assert down.status_code == 503
        assert down.get_json()["resourceType"] == "OperationOutcome"

        server.start()
        assert client.post(FEEDBACK_PATH, json={"feedback": [later]}).status_code == 200
        # Recording pauses for a few seconds after a failure; let that pause end.
        app.extensions["mcas_storage"].recording_paused_until = 0.0
        assert client.post("/cds-services/mcas-therapy-tier", json=hook_body()).status_code == 200
        engine = create_engine(url.replace("postgresql:", "postgresql+psycopg:"))
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(feedback)).scalar() == 2
            assert connection.execute(select(func.count()).select_from(issued_cards)).scalar() == 1
        engine.dispose()
        app.extensions["mcas_storage"].dispose()
    finally:
        server.destroy()


def test_recording_failure_is_counted_per_card_and_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    app = create_app({"TESTING": True, "DATA_DIR": str(blocker / "sub"), "PATIENT_HASH_SALT": SALT})
    from service.storage.issued import record_issued_cards
    from service.web.storage import storage

    before = recording_failures()
    with app.app_context():
        ok = record_issued_cards(
            storage(),
            [card("a"), card("b")],
            hook_instance="h",
            patient_id="p",
            issued_at=datetime.now(UTC),
            thresholds_version="v",
        )
    assert ok is False
    assert recording_failures() == before + 2
