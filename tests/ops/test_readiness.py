"""/readyz tells "cannot answer hooks" from "cannot record".

Red-team finding (issue 17): /readyz failed on a database outage although hooks still
answered (cards are then not recorded, feedback gets 503), so an outage of the shared
database took every pod out of the load balancer at once. Now a check says whether it
blocks hooks; only those make the pod unready, unless MCAS_READY_REQUIRES_DATABASE=true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from service import create_app
from service.ops import health

UNREACHABLE = "postgresql://mcas:hunter2-password@127.0.0.1:9/mcas"


def unreachable_database_app(tmp_path: Path, **config: Any) -> Flask:
    # Nothing listens on port 9 of loopback: the connection is refused at once.
    settings: dict[str, Any] = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": UNREACHABLE,
        "PATIENT_HASH_SALT": "s" * 32,
        "DB_TIMEOUT_SECONDS": 2.0,
    }
    settings.update(config)
    return create_app(settings)


def test_database_outage_leaves_the_service_ready_for_hooks(tmp_path: Path) -> None:
    client = unreachable_database_app(tmp_path).test_client()
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "warn"
    assert body["canAnswerHooks"] is True
    assert body["failing"] == ["database"]
    database = body["checks"]["database"]
    assert database["status"] == "fail" and database["blocksHooks"] is False
    assert "hunter2" not in response.get_data(as_text=True)
    # ... and hooks are indeed answered (local-testing mode here; no token needed).
    assert client.get("/cds-services").status_code == 200


def test_ready_requires_database_makes_an_outage_unready(tmp_path: Path) -> None:
    app = unreachable_database_app(tmp_path, READY_REQUIRES_DATABASE=True)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["canAnswerHooks"] is True  # the pod is out by choice, not because it must be
    assert body["checks"]["database"]["blocksHooks"] is False


def test_ready_requires_database_from_the_environment(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("MCAS_READY_REQUIRES_DATABASE", "true")
    assert unreachable_database_app(tmp_path).test_client().get("/readyz").status_code == 503


def test_readyz_says_which_checks_fail_and_whether_they_block_hooks(tmp_path: Path) -> None:
    app = unreachable_database_app(tmp_path)

    def no_clients() -> None:
        raise health.NotReady("no CDS client is trusted")

    health.register_check(app, "clients", no_clients)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["canAnswerHooks"] is False
    assert sorted(body["failing"]) == ["clients", "database"]
    assert body["checks"]["clients"]["blocksHooks"] is True
    assert body["checks"]["database"]["blocksHooks"] is False
    assert body["checks"]["configuration"] == {
        "status": "pass",
        "blocksHooks": True,
        "durationMs": body["checks"]["configuration"]["durationMs"],
    }


def test_a_healthy_service_passes(tmp_path: Path) -> None:
    body = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}).test_client().get("/readyz")
    assert body.status_code == 200
    assert body.get_json()["status"] == "pass"
    assert body.get_json()["canAnswerHooks"] is True
    assert body.get_json()["failing"] == []


def test_the_database_blocks_hooks_when_the_replay_cache_refuses_on_outage(
    tmp_path: Path,
) -> None:
    from tests.auth_helpers import ISSUER, Signer, trust_file, write_json

    jwks = write_json(tmp_path / "k.json", Signer().jwks())
    app = unreachable_database_app(
        tmp_path,
        AUTH_DISABLED=False,
        TRUST_FILE=str(trust_file(tmp_path, [{"iss": ISSUER, "jwks_file": str(jwks)}])),
        PUBLIC_BASE_URL="https://cds.example.org",
        REPLAY_CACHE_ON_OUTAGE="refuse",
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["canAnswerHooks"] is False
    assert body["checks"]["database"]["blocksHooks"] is True
