"""POST /admin/api/explain (issue 16): token, answer, fixtures, and an audit line only."""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import uuid4

import pytest
from flask import Flask

from service import create_app
from service.scenarios.fixtures import FIXTURES_DIR, load_fixture, request_for
from tests.support.storage_fixtures import ADMIN_TOKEN, NOW

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Admin-Name": "Dr A. Admin"}
TIER2 = "tier-2--fires--refractory-two-episodes"


@pytest.fixture
def admin_app(tmp_path: Any) -> Flask:
    return create_app({"TESTING": True, "AUTH_DISABLED": True, "ADMIN_TOKEN": ADMIN_TOKEN,
                       "DATA_DIR": str(tmp_path / "data"), "CLOCK": lambda: NOW})


def _request(name: str = TIER2) -> dict[str, Any]:
    return request_for(load_fixture(FIXTURES_DIR / f"{name}.json"), NOW)


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/admin/api/explain"), ("GET", "/admin/api/explain/fixtures"),
    ("POST", f"/admin/api/explain/fixtures/{TIER2}"),
])
def test_explain_needs_the_admin_token(admin_app: Flask, method: str, path: str) -> None:
    response = admin_app.test_client().open(path, method=method, json=_request())
    assert response.status_code == 401


def test_explain_answers_cards_and_comparisons_and_logs_no_content(
    admin_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    body = _request()
    patient = body["context"]["patientId"]
    with caplog.at_level(logging.DEBUG):
        response = admin_app.test_client().post("/admin/api/explain", json=body, headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert [c["topic"] for c in answer["cards"]] == ["tier-2"]
    trial = next(c for c in answer["comparisons"] if c["rule"] == "refractory.trial")
    assert trial["value"] == 100 and trial["threshold"] == 28 and trial["result"] is True
    audit = [r for r in caplog.records if getattr(r, "audit", None) == "explain"]
    assert len(audit) == 1 and audit[0].admin == "Dr A. Admin"
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str)
                       for r in caplog.records)
    assert patient not in logged and "refractory" not in logged and "tier-2" not in logged


def test_explain_records_no_card(admin_app: Flask) -> None:
    from sqlalchemy import func, select

    from service.storage.models import issued_cards

    response = admin_app.test_client().post("/admin/api/explain", json=_request(),
                                            headers=ADMIN)
    assert response.status_code == 200
    with admin_app.app_context():
        engine = admin_app.extensions["mcas_storage"].engine()
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(issued_cards)).scalar() == 0


def test_fixtures_listed_and_explained_by_name(admin_app: Flask) -> None:
    client = admin_app.test_client()
    listed = client.get("/admin/api/explain/fixtures", headers=ADMIN).get_json()["fixtures"]
    names = {f["name"] for f in listed}
    assert TIER2 in names and all(f["description"] for f in listed)
    response = client.post(f"/admin/api/explain/fixtures/{TIER2}", headers=ADMIN)
    assert response.status_code == 200
    assert [c["topic"] for c in response.get_json()["cards"]] == ["tier-2"]


@pytest.mark.parametrize("name", ["no-such-fixture", "..", "%2e%2e%2fcards"])
def test_unknown_fixture_is_404(admin_app: Flask, name: str) -> None:
    response = admin_app.test_client().post(f"/admin/api/explain/fixtures/{name}",
                                            headers=ADMIN)
    assert response.status_code == 404
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_a_bad_request_is_a_400_naming_the_field(admin_app: Flask) -> None:
    body = _request()
    del body["context"]
    response = admin_app.test_client().post("/admin/api/explain", json=body, headers=ADMIN)
    assert response.status_code == 400
    assert "context" in json.dumps(response.get_json())


def test_a_request_the_hook_refuses_is_explained_with_its_status(admin_app: Flask) -> None:
    body = _request()
    body["prefetch"].pop("conditions")
    response = admin_app.test_client().post("/admin/api/explain", json=body, headers=ADMIN)
    assert response.status_code == 200
    assert response.get_json()["refused"]["status"] == 412


def test_explain_shows_the_snooze_that_applies(admin_app: Flask) -> None:
    from tests.support.outcomes_seed import as_real_patient

    client = admin_app.test_client()
    request = as_real_patient(_request())
    cards = client.post("/cds-services/mcas-therapy-tier", json=request).get_json()["cards"]
    tier2 = next(c for c in cards if c["source"]["topic"]["code"] == "tier-2")
    feedback = {"feedback": [{"card": tier2["uuid"], "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-25T11:50:00Z"}]}
    assert client.post("/cds-services/mcas-therapy-tier/feedback", json=feedback).status_code == 200
    answer = client.post("/admin/api/explain", json={**request, "hookInstance": str(uuid4())},
                         headers=ADMIN).get_json()
    assert [s["topic"] for s in answer["snoozes"]] == ["tier-2"]
    assert answer["snoozes"][0]["overridden_card"] == tier2["uuid"]
    decision = next(d for d in answer["decisions"] if d["topic"] == "tier-2")
    assert decision["fired"] and not decision["shown"] and "snoozed until" in decision["why"]
    assert "tier-2" not in [c["topic"] for c in answer["cards"]]
