"""Feedback validation, the administrator credential, the salt and the migration command."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, inspect

from service import create_app
from service.auth.admin_token import admin_token_matches
from service.settings import SettingError
from service.storage.migrate import head_revision
from service.storage.patient_hash import SALT_FILE, SaltError
from tests.support.storage_fixtures import ADMIN_TOKEN

FEEDBACK_PATH = "/cds-services/mcas-therapy-tier/feedback"
TS = "2026-11-25T11:44:40Z"


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Flask:
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "ADMIN_TOKEN": ADMIN_TOKEN})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "feedback"),
        ({"feedback": {}}, "feedback"),
        ({"feedback": [{"outcome": "overridden", "outcomeTimestamp": TS}]}, "feedback.0.card"),
        (
            {"feedback": [{"card": "c", "outcome": "ignored", "outcomeTimestamp": TS}]},
            "feedback.0.outcome",
        ),
        (
            {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": TS}]},
            "feedback.0.acceptedSuggestions",
        ),
        (
            {
                "feedback": [
                    {
                        "card": "c",
                        "outcome": "accepted",
                        "acceptedSuggestions": [],
                        "outcomeTimestamp": TS,
                    }
                ]
            },
            "feedback.0.acceptedSuggestions",
        ),
        (
            {
                "feedback": [
                    {
                        "card": "c",
                        "outcome": "accepted",
                        "acceptedSuggestions": [{}],
                        "outcomeTimestamp": TS,
                    }
                ]
            },
            "feedback.0.acceptedSuggestions.0.id",
        ),
        ({"feedback": [{"card": "c", "outcome": "overridden"}]}, "feedback.0.outcomeTimestamp"),
        (
            {
                "feedback": [
                    {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-25"}
                ]
            },
            "feedback.0.outcomeTimestamp",
        ),
        (
            {
                "feedback": [
                    {
                        "card": "c",
                        "outcome": "overridden",
                        "outcomeTimestamp": "2026-11-25T11:44:40",
                    }
                ]
            },
            "feedback.0.outcomeTimestamp",
        ),
        (
            {
                "feedback": [
                    {
                        "card": "c",
                        "outcome": "overridden",
                        "outcomeTimestamp": TS,
                        "overrideReason": {"reason": {"code": "x"}},
                    }
                ]
            },
            "feedback.0.overrideReason.reason.system",
        ),
        (
            {
                "feedback": [
                    {
                        "card": "c",
                        "outcome": "overridden",
                        "outcomeTimestamp": TS,
                        "overrideReason": {},
                    }
                ]
            },
            "feedback.0.overrideReason",
        ),
        (
            {"feedback": [{"card": "", "outcome": "overridden", "outcomeTimestamp": TS}]},
            "feedback.0.card",
        ),
    ],
)
def test_invalid_feedback_is_400_naming_the_field(
    sqlite_app: Flask, body: dict[str, Any], field: str
) -> None:
    response = sqlite_app.test_client().post(FEEDBACK_PATH, json=body)
    assert response.status_code == 400
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert any(i["diagnostics"].startswith(f"{field}:") for i in outcome["issue"]), outcome


def test_feedback_body_that_is_not_json_is_400(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().post(
        FEEDBACK_PATH, data=b"{nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_feedback_for_another_service_is_404(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().post(
        "/cds-services/other/feedback",
        json={"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": TS}]},
    )
    assert response.status_code == 404


def test_the_embedded_default_migrates_sqlite_on_first_use(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    body = {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": TS}]}
    assert app.test_client().post(FEEDBACK_PATH, json=body).status_code == 200
    database = tmp_path / "mcas-cds.sqlite3"
    engine = create_engine(f"sqlite:///{database}")
    assert {"issued_cards", "feedback", "alembic_version"} <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_postgresql_is_migrated_by_the_command_not_on_first_use(
    tmp_path: Path, fresh_postgres_url: Any
) -> None:
    url = fresh_postgres_url(False)
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path),
            "DATABASE_URL": url,
            "PATIENT_HASH_SALT": "s" * 20,
        }
    )
    body = {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": TS}]}
    # No schema yet: the EHR is asked to retry rather than told it was stored.
    assert app.test_client().post(FEEDBACK_PATH, json=body).status_code == 503
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"postgresql database at revision {head_revision()}" in result.output
    head = head_revision()
    assert f"database: {head}  code: {head}" in runner.invoke(args=["db", "current"]).output
    # Running it again (another replica) is harmless.
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert app.test_client().post(FEEDBACK_PATH, json=body).status_code == 200
    app.extensions["mcas_storage"].dispose()


def test_admin_report_needs_the_admin_token(tmp_path: Path) -> None:
    path = "/admin/api/feedback-report"
    unconfigured = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    response = unconfigured.test_client().get(path)
    assert response.status_code == 503
    assert "MCAS_ADMIN_TOKEN" in response.get_json()["issue"][0]["diagnostics"]

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "ADMIN_TOKEN": ADMIN_TOKEN})
    client = app.test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": ADMIN_TOKEN},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
    ):
        denied = client.get(path, headers=headers)
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"].startswith("Bearer")
    ok = client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert ok.status_code == 200
    assert ok.get_json()["topics"] == []
    bad = client.get(
        path, query_string={"since": "soon"}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert bad.status_code == 400
    assert bad.get_json()["issue"][0]["diagnostics"].startswith("since:")


def test_admin_token_comparison() -> None:
    assert admin_token_matches(f"Bearer {ADMIN_TOKEN}", ADMIN_TOKEN)
    assert admin_token_matches(f"bearer  {ADMIN_TOKEN}", ADMIN_TOKEN)
    assert not admin_token_matches(f"Bearer {ADMIN_TOKEN}x", ADMIN_TOKEN)
    assert not admin_token_matches(None, ADMIN_TOKEN)
    assert not admin_token_matches("Bearer ", ADMIN_TOKEN)


def test_short_admin_token_from_the_environment_stops_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MCAS_ADMIN_TOKEN", "short")
    with pytest.raises(SettingError, match="MCAS_ADMIN_TOKEN"):
        create_app({"TESTING": True})


def test_salt_is_required_with_a_database_url(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match="MCAS_PATIENT_HASH_SALT"):
        create_app({"TESTING": True, "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"})
    with pytest.raises(SaltError):
        create_app({"TESTING": True, "PATIENT_HASH_SALT": "short"})


def test_generated_salt_is_private_and_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from service.storage.issued import record_issued_cards
    from service.web.storage import storage
    from tests.support.cards import card

    def record(app: Flask) -> None:
        with app.app_context():
            assert record_issued_cards(
                storage(),
                [card("tier-1")],
                hook_instance="h",
                patient_id="p-1",
                issued_at=app.config["CLOCK"](),
                thresholds_version="v",
            )

    from datetime import UTC, datetime

    config = {"TESTING": True, "DATA_DIR": str(tmp_path), "CLOCK": lambda: datetime.now(UTC)}
    record(create_app(config))
    salt_file = tmp_path / SALT_FILE
    assert stat.S_IMODE(os.stat(salt_file).st_mode) == 0o600
    assert "MCAS_PATIENT_HASH_SALT" in caplog.text
    first = salt_file.read_text()
    record(create_app(config))
    assert salt_file.read_text() == first
    engine = create_engine(f"sqlite:///{tmp_path / 'mcas-cds.sqlite3'}")
    with engine.connect() as connection:
        hashes = {r[0] for r in connection.exec_driver_sql("SELECT patient_hash FROM issued_cards")}
    assert len(hashes) == 1


def test_protect_blueprint_guards_every_route(tmp_path: Path) -> None:
    from flask import Blueprint

    from service.web.admin_auth import protect_blueprint

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "ADMIN_TOKEN": ADMIN_TOKEN})
    bp = protect_blueprint(Blueprint("guarded", __name__))
    bp.add_url_rule("/admin/x", "x", lambda: {"ok": True})
    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/admin/x").status_code == 401
    assert client.get("/admin/x", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json == {
        "ok": True
    }


def test_feedback_with_a_wrong_method_is_405_json(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().get(FEEDBACK_PATH)
    assert response.status_code == 405
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_too_many_items_in_one_request_is_400(sqlite_app: Flask) -> None:
    item = {"card": "c", "outcome": "overridden", "outcomeTimestamp": TS}
    response = sqlite_app.test_client().post(FEEDBACK_PATH, json={"feedback": [item] * 501})
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["diagnostics"].startswith("feedback: At most 500")


@pytest.mark.integration
def test_the_flask_command_line_migrates_and_reports(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "MCAS_DATA_DIR": str(tmp_path), "MCAS_LOG_LEVEL": "WARNING"}

    def flask(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "service", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"sqlite database at revision {head_revision()}" in flask("db", "upgrade")
    assert "topics" in flask("feedback-report", "--format", "json")
