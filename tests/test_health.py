"""/healthz and /readyz, and the readiness-check registry other features extend."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.ops import health


def test_healthz_answers_json_without_touching_anything(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json and response.get_json() == {"status": "pass"}


def test_readyz_reports_the_configuration_check(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "pass"
    assert body["checks"]["configuration"]["status"] == "pass"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_registered_check_that_fails_makes_readyz_503(app: Flask) -> None:
    calls = []
    health.register_check(app, "cache", lambda: calls.append("ran"))

    def broken() -> None:
        raise health.NotReady("cannot reach the queue")

    health.register_check(app, "queue", broken)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["checks"]["cache"]["status"] == "pass" and calls == ["ran"]
    assert body["checks"]["queue"] == {
        "status": "fail",
        "output": "cannot reach the queue",
        "blocksHooks": True,
        "durationMs": body["checks"]["queue"]["durationMs"],
    }


def test_an_unexpected_exception_is_logged_but_not_shown(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    secret_url = "postgresql://mcas:hunter2@db.internal:5432/mcas"

    def leaky() -> None:
        raise ConnectionError(f"could not connect to {secret_url}")

    health.register_check(app, "directory", leaky)
    with caplog.at_level(logging.WARNING, logger="service.ops.health"):
        response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["directory"]["output"] == "ConnectionError"
    assert "hunter2" not in response.get_data(as_text=True)
    assert any(record.getMessage() == "readiness check failed" for record in caplog.records)


def test_a_failing_thresholds_provider_makes_the_service_unready(app: Flask) -> None:
    def unreadable() -> None:
        raise health.NotReady("thresholds file unreadable")

    app.extensions["mcas"].thresholds = unreadable
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["configuration"]["output"] == "thresholds file unreadable"


def test_a_check_name_cannot_be_registered_twice(app: Flask) -> None:
    with pytest.raises(ValueError, match="configuration"):
        health.register_check(app, "configuration", lambda: None)


def test_probes_stay_open_when_the_app_is_built_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Orchestrators send no token: the probes must answer whatever guards /cds-services.
    monkeypatch.setenv("MCAS_METRICS_TOKEN", "scrape-secret")
    client = create_app({"TESTING": True}).test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_readyz_checks_the_database_on_each_backend(storage_app: Flask) -> None:
    response = storage_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"]["status"] == "pass"


def test_an_unreachable_database_makes_the_service_unready_but_alive(tmp_path: Path) -> None:
    # Nothing listens on port 9 of loopback: the connection is refused at once. Unready only
    # when so configured (by default hooks are still answered: tests/ops/test_readiness.py).
    app = create_app(
        {
            "TESTING": True,
            "READY_REQUIRES_DATABASE": True,
            "DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://mcas:hunter2-password@127.0.0.1:9/mcas",
            "PATIENT_HASH_SALT": "s" * 32,
            "DB_TIMEOUT_SECONDS": 2.0,
        }
    )
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    check = response.get_json()["checks"]["database"]
    assert check["status"] == "fail" and check["output"] == "OperationalError"
    assert "hunter2" not in response.get_data(as_text=True)
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_successful_probes_stay_out_of_the_request_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="service.request"):
        client.get("/healthz")
        client.get("/readyz")
        client.get("/metrics")
        client.get("/cds-services")
    routes = [getattr(r, "route", None) for r in caplog.records if r.name == "service.request"]
    assert routes == ["/cds-services"]
