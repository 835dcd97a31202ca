"""Feedback and issued cards stored on SQLite and on a real PostgreSQL (issue 5)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from service.ops.state import state
from service.storage.issued import recording_failures
from service.storage.migrate import head_revision
from service.storage.models import feedback, issued_cards
from tests.support.cards import answer_with, card, hook_body
from tests.support.paths import load_recording
from tests.support.postgres import database_name
from tests.support.storage_fixtures import ADMIN_TOKEN, SALT, engine_of

FEEDBACK_PATH = "/cds-services/mcas-therapy-tier/feedback"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def rows(app: Flask, table: Any) -> list[Any]:
    with engine_of(app).connect() as connection:
        return list(connection.execute(select(table).order_by(table.c.id)))


def post_feedback(app: Flask, *items: dict[str, Any]) -> Any:
    return app.test_client().post(FEEDBACK_PATH, json={"feedback": list(items)})


def report(app: Flask, **query: str) -> dict[str, Any]:
    response = app.test_client().get(
        "/admin/api/feedback-report", query_string=query, headers=ADMIN
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_topic(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["topic"]: row for row in result["topics"]}


def test_sandbox_feedback_is_stored_under_unknown_and_reported(storage_app: Flask) -> None:
    recording = load_recording("feedback-request.json")
    response = storage_app.test_client().post(
        recording["path"],
        data=json.dumps(recording["body"], separators=(",", ":")),
        headers={"Content-Type": "application/json", "Accept": recording["headers"]["Accept"]},
    )
    assert response.status_code == 200
    assert response.get_json() == {"stored": 1, "duplicates": 0}
    [stored] = rows(storage_app, feedback)
    assert stored.card_uuid == "7d3f2a9e-5b61-4c0a-9f3e-3c5a00000001"
    assert stored.topic == "unknown"
    assert stored.outcome == "overridden"
    assert stored.outcome_at.isoformat() == "2026-11-25T11:44:40.745000+00:00"
    unknown = by_topic(report(storage_app, since="2026-11-25", until="2026-11-26"))["unknown"]
    assert unknown["issued"] == 0
    assert unknown["overridden"] == 1
    assert unknown["overridden_without_reason"] == 1
    assert unknown["acceptance_rate"] == 0


def test_issued_cards_are_recorded_without_the_patient_id(
    storage_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards = [card("tier-2", version=None), card("albuterol", version=None)]
    answer_with(monkeypatch, cards)
    body = hook_body("mcas-1")
    response = storage_app.test_client().post("/cds-services/mcas-therapy-tier", json=body)
    assert response.status_code == 200
    assert [c["uuid"] for c in response.get_json()["cards"]] == [c["uuid"] for c in cards]

    recorded = rows(storage_app, issued_cards)
    assert [(r.card_uuid, r.topic) for r in recorded] == [
        (cards[0]["uuid"], "tier-2"),
        (cards[1]["uuid"], "albuterol"),
    ]
    assert {r.hook_instance for r in recorded} == {body["hookInstance"]}
    # The version of the thresholds that produced the cards (the one in force).
    with storage_app.app_context():
        active_version = state().thresholds().version
    assert {r.thresholds_version for r in recorded} == {active_version}
    expected = hmac.new(SALT.encode(), b"mcas-1", hashlib.sha256).hexdigest()
    assert {r.patient_hash for r in recorded} == {expected}
    assert recorded[0].issued_at.isoformat() == "2026-11-25T11:44:40+00:00"
    with engine_of(storage_app).connect() as connection:
        dump = [tuple(map(str, row)) for row in connection.execute(select(issued_cards))]
    assert not any("mcas-1" in value for row in dump for value in row)


def test_feedback_is_tied_to_the_topic_and_reported(
    storage_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    tier2 = card("tier-2", suggestion="s-1")
    albuterol = card("albuterol")
    tier2_again = card("tier-2")
    answer_with(monkeypatch, [tier2, albuterol, tier2_again])
    client = storage_app.test_client()
    assert client.post("/cds-services/mcas-therapy-tier", json=hook_body()).status_code == 200

    reason = {
        "system": "https://mcas-cds.invalid/override-reason",
        "code": "patient-declined",
        "display": "Patient declined",
    }
    response = post_feedback(
        storage_app,
        {
            "card": tier2["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "s-1"}],
            "outcomeTimestamp": "2026-11-25T11:45:00Z",
        },
        {
            "card": albuterol["uuid"],
            "outcome": "overridden",
            "overrideReason": {"reason": reason, "userComment": "discussed at visit"},
            "outcomeTimestamp": "2026-11-25T11:45:01Z",
        },
        {
            "card": tier2_again["uuid"],
            "outcome": "overridden",
            "overrideReason": {"reason": reason},
            "outcomeTimestamp": "2026-11-25T11:45:02Z",
        },
    )
    assert response.status_code == 200
    assert response.get_json() == {"stored": 3, "duplicates": 0}
    stored = rows(storage_app, feedback)
    assert [r.topic for r in stored] == ["tier-2", "albuterol", "tier-2"]
    assert json.loads(stored[0].accepted_suggestions) == ["s-1"]
    assert stored[1].override_code == "patient-declined"
    assert stored[1].user_comment == "discussed at visit"

    topics = by_topic(report(storage_app, since="2026-11-25T00:00:00Z", until="2026-11-26"))
    assert topics["tier-2"] | {"override_reasons": None} == {
        "topic": "tier-2",
        "issued": 2,
        "snoozed": 0,
        "accepted": 1,
        "overridden": 1,
        "acceptance_rate": 0.5,
        "override_reasons": None,
        "overridden_without_reason": 0,
        "user_comments": 0,
    }
    assert topics["tier-2"]["override_reasons"] == [{**reason, "count": 1}]
    assert topics["albuterol"]["acceptance_rate"] == 0
    assert topics["albuterol"]["user_comments"] == 1
    # Outside the period: nothing.
    assert report(storage_app, since="2026-10-01", until="2026-11-01")["topics"] == []


def test_the_same_item_twice_is_stored_once(storage_app: Flask) -> None:
    item = {
        "card": "c-1",
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": "a"}, {"id": "b"}],
        "outcomeTimestamp": "2026-11-25T11:44:40.745Z",
    }
    # Same instant written differently, suggestions in another order: the same item.
    same = {
        **item,
        "acceptedSuggestions": [{"id": "b"}, {"id": "a"}],
        "outcomeTimestamp": "2026-11-25T12:44:40.745+01:00",
    }
    assert post_feedback(storage_app, item, same).get_json() == {"stored": 1, "duplicates": 1}
    assert post_feedback(storage_app, item).get_json() == {"stored": 0, "duplicates": 1}
    later = {**item, "outcomeTimestamp": "2026-11-25T11:50:00Z"}
    other = {**item, "acceptedSuggestions": [{"id": "a"}]}
    assert post_feedback(storage_app, later, other).get_json() == {"stored": 2, "duplicates": 0}
    assert len(rows(storage_app, feedback)) == 3


def test_the_same_card_recorded_twice_is_stored_once(
    storage_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_with(monkeypatch, [card("tier-1")])
    body = hook_body()
    client = storage_app.test_client()
    assert client.post("/cds-services/mcas-therapy-tier", json=body).status_code == 200
    assert client.post("/cds-services/mcas-therapy-tier", json=body).status_code == 200
    assert len(rows(storage_app, issued_cards)) == 1


def test_report_from_the_command_line(storage_app: Flask) -> None:
    post_feedback(
        storage_app,
        {"card": "c-9", "outcome": "overridden", "outcomeTimestamp": "2026-11-24T08:00:00Z"},
    )
    runner = storage_app.test_cli_runner()
    result = runner.invoke(args=["feedback-report", "--since", "2026-11-01", "--format", "json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert parsed["until"] == "2026-11-25T11:44:40Z"
    assert by_topic(parsed)["unknown"]["overridden"] == 1
    table = runner.invoke(args=["feedback-report", "--since", "2026-11-01"])
    assert table.exit_code == 0
    assert "unknown" in table.output and "no reason given (1)" in table.output
    bad = runner.invoke(args=["feedback-report", "--since", "yesterday"])
    assert bad.exit_code != 0 and "since" in bad.output


def test_a_locked_or_stopped_database_gives_503_and_the_hook_still_answers(
    storage_app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    """Briefly unavailable: SQLite locked by another writer, PostgreSQL's database gone."""
    answer_with(monkeypatch, [card("tier-2")])
    client = storage_app.test_client()
    item = {"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-25T11:44:40Z"}
    engine_of(storage_app)  # the schema exists before the outage
    storage_app.config["DB_TIMEOUT_SECONDS"] = 0.2
    storage = storage_app.extensions["mcas_storage"]
    storage.timeout = 0.2
    storage.dispose()

    outage = _sqlite_lock(storage_app) if backend == "sqlite" else _pg_outage(request)
    with outage:
        before = recording_failures()
        hook = client.post("/cds-services/mcas-therapy-tier", json=hook_body())
        assert hook.status_code == 200 and len(hook.get_json()["cards"]) == 1
        assert recording_failures() == before + 1
        # Paused after the failure: the next hook does not wait a timeout, and counts.
        again = client.post("/cds-services/mcas-therapy-tier", json=hook_body())
        assert again.status_code == 200 and len(again.get_json()["cards"]) == 1
        assert recording_failures() == before + 2
        unavailable = client.post(FEEDBACK_PATH, json={"feedback": [item]})
        assert unavailable.status_code == 503
        assert unavailable.headers["Retry-After"] == "5"
        assert unavailable.get_json()["issue"][0]["code"] == "transient"
    retried = client.post(FEEDBACK_PATH, json={"feedback": [item]})
    assert retried.status_code == 200 and retried.get_json()["stored"] == 1
    assert len(rows(storage_app, feedback)) == 1


class _sqlite_lock:
    def __init__(self, app: Flask) -> None:
        import sqlite3

        path = app.extensions["mcas_storage"].url.database
        self.connection = sqlite3.connect(path, isolation_level=None)

    def __enter__(self) -> None:
        self.connection.execute("BEGIN EXCLUSIVE")

    def __exit__(self, *_: object) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


class _pg_outage:
    """Refuse connections to this test's database, then let them in again."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.server = request.getfixturevalue("postgres_server")
        self.app: Flask = request.getfixturevalue("storage_app")
        self.name = database_name(self.app.config["DATABASE_URL"])

    def __enter__(self) -> None:
        self.server.execute(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS false")
        self.server.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'"
        )

    def __exit__(self, *_: object) -> None:
        self.server.execute(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS true")


def test_schema_made_by_migrations_matches_the_models(storage_app: Flask) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from service.storage.models import metadata

    with engine_of(storage_app).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == head_revision()


def test_sandbox_hook_cards_are_recorded_and_its_feedback_tied_to_them(
    storage_app: Flask, sandbox_hook: dict[str, Any]
) -> None:
    """The real pipeline on the Sandbox's recorded call, then the Sandbox's Dismiss."""
    response = storage_app.test_client().post(sandbox_hook["path"], json=sandbox_hook["body"])
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    assert {c["source"]["topic"]["code"] for c in cards} == {"tier-2", "albuterol"}
    recorded = rows(storage_app, issued_cards)
    assert sorted((r.card_uuid, r.topic) for r in recorded) == sorted(
        (c["uuid"], c["source"]["topic"]["code"]) for c in cards
    )
    assert {r.hook_instance for r in recorded} == {sandbox_hook["body"]["hookInstance"]}
    dismiss = {
        "card": cards[0]["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-25T11:44:40.745Z",
    }
    assert post_feedback(storage_app, dismiss).status_code == 200
    topic = cards[0]["source"]["topic"]["code"]
    assert (
        by_topic(report(storage_app, since="2026-11-25", until="2026-11-26"))[topic]["overridden"]
        == 1
    )
