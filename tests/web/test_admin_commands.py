"""`flask --app service ...` administration commands run with the wrong environment
(red-team findings, issue 17): against a database that does not exist they must say so
and exit non-zero, not create an empty one and report nothing; and they must not print
the serving app's trust-file ERROR, which has nothing to do with them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer

# Each runs `flask --app service ...` in a process of its own.
pytestmark = pytest.mark.integration


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MCAS_")}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "service", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [("feedback-report",), ("feedback-report", "--format", "json"), ("thresholds", "history"),
     ("db", "current")],
)
def test_admin_command_on_a_missing_database_does_not_create_it(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    data_dir = tmp_path / "wrong-data-dir"
    done = flask({"MCAS_DATA_DIR": str(data_dir), "MCAS_THRESHOLDS_SOURCE": "database"}, *command)
    assert done.returncode != 0, done.stdout
    database = data_dir / "mcas-cds.sqlite3"
    assert not database.exists()
    assert str(database) in done.stderr and "MCAS_DATA_DIR" in done.stderr
    assert "Traceback" not in done.stderr


def test_db_upgrade_still_creates_the_database(tmp_path: Path) -> None:
    done = flask({"MCAS_DATA_DIR": str(tmp_path)}, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mcas-cds.sqlite3").is_file()
    assert flask({"MCAS_DATA_DIR": str(tmp_path)}, "feedback-report").returncode == 0


def test_admin_command_on_a_missing_postgresql_database_says_so(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    env = {
        "MCAS_DATA_DIR": str(tmp_path),
        "MCAS_DATABASE_URL": postgres_server.url("no_such_database"),
        "MCAS_PATIENT_HASH_SALT": "admin-command-salt-0123456789",
    }
    done = flask(env, "feedback-report")
    assert done.returncode != 0
    assert "no_such_database" in done.stderr and "Traceback" not in done.stderr


def test_admin_command_on_an_unmigrated_postgresql_database_says_so(
    fresh_postgres_url: object, tmp_path: Path
) -> None:
    url = fresh_postgres_url(False)  # type: ignore[operator]
    env = {
        "MCAS_DATA_DIR": str(tmp_path),
        "MCAS_DATABASE_URL": url,
        "MCAS_PATIENT_HASH_SALT": "admin-command-salt-0123456789",
    }
    done = flask(env, "feedback-report")
    assert done.returncode != 0
    assert "db upgrade" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [("db", "upgrade"), ("thresholds", "history")])
def test_admin_commands_do_not_print_the_trust_file_error(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # Verification on (the default) and no MCAS_TRUST_FILE: only serving needs one.
    done = flask({"MCAS_DATA_DIR": str(tmp_path)}, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    done = flask({"MCAS_DATA_DIR": str(tmp_path)}, *command)
    assert done.returncode == 0, done.stderr
    assert "MCAS_TRUST_FILE" not in done.stderr
    assert '"level": "ERROR"' not in done.stderr


def test_the_serving_app_still_reports_the_missing_trust_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from service import create_app

    monkeypatch.setenv("MCAS_AUTH_DISABLED", "false")
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    client = app.test_client()
    for _ in range(3):
        assert client.get("/cds-services").status_code == 401
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    # Once, when the app first serves, naming the setting and the way out.
    assert len([m for m in errors if "MCAS_TRUST_FILE is not set" in m]) == 1
    assert client.get("/readyz").status_code == 503
