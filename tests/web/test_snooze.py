"""Snoozes end to end (issue 14, docs/clinical-rules.md §8), on SQLite and PostgreSQL.

The CDS Hooks Sandbox's recorded hook call and its recorded dismissal (``overridden``, no
reason), re-pointed at the card the test was issued, replayed with their original
signed headers: the next hook call leaves that topic out; a new counted episode (a new
Condition: another fingerprint) brings it back. Then test traffic, the administrator
API, and a database that cannot answer.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from service import create_app
from service.storage.models import feedback, issued_cards
from tests.support.auth_helpers import frozen
from tests.support.paths import load_recording
from tests.support.sandbox_replay import FROZEN_AT, replay, sandbox_app
from tests.support.snooze import (
    HOOK,
    card_of,
    override,
    sample_value,
    sandbox_body,
    topics,
    with_new_episode,
)
from tests.support.storage_fixtures import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SNOOZES = "/admin/api/snoozes"
# The shared test machine is loaded: these tests are about what the snooze decides, so
# they give the read time (MCAS_SNOOZE_READ_BUDGET_MS); the budget's own tests keep 100.
ROOMY = {"SNOOZE_READ_BUDGET_MS": 2000}


def _unsigned_app(storage_config: dict[str, Any], **extra: Any) -> Flask:
    """Another app on the same database, clock at the recording (tokens not checked)."""
    return create_app(
        {**storage_config, "AUTH_DISABLED": True, "CLOCK": frozen(FROZEN_AT), **ROOMY, **extra}
    )


def _rows(app: Flask, table: Any) -> list[Any]:
    engine = app.extensions["mcas_storage"].engine()
    with engine.connect() as connection:
        return list(connection.execute(select(table).order_by(table.c.id)))


def test_the_sandbox_override_snoozes_the_card_until_a_new_episode(
    storage_config: dict[str, Any], tmp_path: Path
) -> None:
    config = {**{k: v for k, v in storage_config.items() if k != "CLOCK"}, **ROOMY}
    signed = sandbox_app(tmp_path, **config)
    first = replay(signed, load_recording("hook-request.json"))
    assert topics(first) == ["tier-2", "albuterol"]
    tier2 = card_of(first, "tier-2")

    # The recorded dismissal, re-pointed at the tier-2 card this test was issued.
    recording = load_recording("feedback-request.json")
    recorded_card = recording["body"]["feedback"][0]["card"]
    assert len(recorded_card) == len(tier2["uuid"])  # the body keeps its Content-Length
    recording = copy.deepcopy(recording)
    recording["body"]["feedback"][0]["card"] = tier2["uuid"]
    overrides = sample_value("mcas_feedback_items_total", outcome="overridden", test="false")
    answer = replay(signed, recording)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert sample_value(
        "mcas_feedback_items_total", outcome="overridden", test="false"
    ) == overrides + 1
    assert answer.get_json() == {"stored": 1, "duplicates": 0}

    other = _unsigned_app(config)
    client = other.test_client()
    snoozed_before = sample_value("mcas_cards_snoozed_total", topic="tier-2", test="false")
    again = client.post(HOOK, json=sandbox_body())
    assert topics(again) == ["albuterol"]
    assert sample_value(
        "mcas_cards_snoozed_total", topic="tier-2", test="false"
    ) == snoozed_before + 1
    # The card held back is recorded as snoozed (the outcomes view counts it).
    rows = _rows(other, issued_cards)
    assert [(r.topic, r.status) for r in rows] == [
        ("tier-2", "issued"), ("albuterol", "issued"),
        ("albuterol", "issued"), ("tier-2", "snoozed"),
    ]
    assert rows[0].fingerprint == rows[3].fingerprint
    assert rows[0].fingerprint != rows[1].fingerprint
    assert not any(r.test for r in rows)
    report = client.get(
        "/admin/api/feedback-report?since=2026-11-25&until=2026-11-26", headers=ADMIN
    ).get_json()
    tier2_row = next(t for t in report["topics"] if t["topic"] == "tier-2")
    assert (tier2_row["issued"], tier2_row["snoozed"], tier2_row["overridden"]) == (1, 1, 1)
    assert tier2_row["overridden_without_reason"] == 1

    # A new counted episode changes the fingerprint: the card is back.
    back = client.post(HOOK, json=with_new_episode(sandbox_body()))
    assert topics(back) == ["tier-2", "albuterol"]
    assert _rows(other, issued_cards)[-2].fingerprint != rows[0].fingerprint


def test_a_test_patient_is_never_snoozed_unless_asked(storage_config: dict[str, Any]) -> None:
    body = sandbox_body("mcas-test-snooze")
    app = _unsigned_app(storage_config)
    client = app.test_client()
    issued_before = sample_value("mcas_cards_issued_total", topic="tier-2", test="true",
                                 service="mcas-therapy-tier")
    test_overrides = sample_value("mcas_feedback_items_total", outcome="overridden", test="true")
    first = client.post(HOOK, json=body)
    override(app, card_of(first, "tier-2")["uuid"])
    assert sample_value(
        "mcas_feedback_items_total", outcome="overridden", test="true"
    ) == test_overrides + 1
    assert topics(client.post(HOOK, json=body)) == ["tier-2", "albuterol"]
    assert sample_value(
        "mcas_cards_issued_total", topic="tier-2", test="true", service="mcas-therapy-tier"
    ) == issued_before + 2
    assert all(r.test for r in _rows(app, issued_cards))
    assert all(r.test for r in _rows(app, feedback))
    # The outcomes report leaves test traffic out unless asked for.
    period = "?since=2026-11-25&until=2026-11-26"
    plain = client.get("/admin/api/feedback-report" + period, headers=ADMIN).get_json()
    assert plain["topics"] == [] and plain["include_test"] is False
    with_test = client.get(
        "/admin/api/feedback-report" + period + "&include_test=true", headers=ADMIN
    ).get_json()
    assert next(t for t in with_test["topics"] if t["topic"] == "tier-2")["issued"] == 2
    bad = client.get("/admin/api/feedback-report?include_test=maybe", headers=ADMIN)
    assert bad.status_code == 400
    assert bad.get_json()["issue"][0]["expression"] == ["include_test"]

    # MCAS_SNOOZE_TEST_PATIENTS (the snooze tests' switch): snoozed like anyone.
    snoozing = _unsigned_app(storage_config, SNOOZE_TEST_PATIENTS=True)
    assert topics(snoozing.test_client().post(HOOK, json=body)) == ["albuterol"]


def test_listed_test_patient_ids_are_test_traffic(storage_config: dict[str, Any]) -> None:
    app = _unsigned_app(storage_config, TEST_PATIENT_IDS="ehr-test-7, other")
    client = app.test_client()
    override(app, card_of(client.post(HOOK, json=sandbox_body("ehr-test-7")), "tier-2")["uuid"])
    assert topics(client.post(HOOK, json=sandbox_body("ehr-test-7"))) == ["tier-2", "albuterol"]
    assert all(r.test for r in _rows(app, issued_cards))


def test_an_accepted_card_does_not_snooze(storage_config: dict[str, Any]) -> None:
    app = _unsigned_app(storage_config)
    client = app.test_client()
    card = card_of(client.post(HOOK, json=sandbox_body()), "albuterol")
    override(app, card["uuid"], outcome="accepted",
             acceptedSuggestions=[{"id": card["suggestions"][0]["uuid"]}])
    assert topics(client.post(HOOK, json=sandbox_body())) == ["tier-2", "albuterol"]


def test_administrators_list_and_clear_a_patients_snoozes(
    storage_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = _unsigned_app(storage_config)
    client = app.test_client()
    first = client.post(HOOK, json=sandbox_body())
    for topic in ("tier-2", "albuterol"):
        override(app, card_of(first, topic)["uuid"], overrideReason={"reason": {
            "system": "https://mcas-cds.org/fhir/CodeSystem/override-reason",
            "code": "already-addressed"}})
    assert topics(client.post(HOOK, json=sandbox_body())) == []

    listed = client.get(SNOOZES + "?patient=mcas-1", headers=ADMIN)
    assert listed.status_code == 200
    body = listed.get_json()
    assert [s["topic"] for s in body["snoozes"]] == ["albuterol", "tier-2"]
    assert body["snoozes"][0]["until"] == "2026-12-25T11:44:40.745000Z"  # 30 days
    assert body["snoozes"][0]["override_reason"] == "already-addressed"
    assert body["snoozed_cards"] == 2
    assert "mcas-1" not in listed.get_data(as_text=True)
    other = client.get(SNOOZES + "?patient=someone-else", headers=ADMIN).get_json()
    assert other == {"snoozes": [], "snoozed_cards": 0}

    cleared = client.delete(SNOOZES + "?patient=mcas-1&topic=albuterol", headers=ADMIN)
    assert cleared.get_json() == {"cleared": 1}
    assert topics(client.post(HOOK, json=sandbox_body())) == ["albuterol"]
    assert client.delete(SNOOZES + "?patient=mcas-1", headers=ADMIN).get_json() == {"cleared": 1}
    assert topics(client.post(HOOK, json=sandbox_body())) == ["tier-2", "albuterol"]
    assert "mcas-1" not in caplog.text  # the patient id is never logged

    assert client.get(SNOOZES, headers=ADMIN).status_code == 400
    wrong = client.delete(SNOOZES + "?patient=mcas-1&topic=nope", headers=ADMIN)
    assert wrong.status_code == 400
    assert wrong.get_json()["issue"][0]["expression"] == ["topic"]
    assert client.get(SNOOZES + "?patient=mcas-1").status_code == 401


def test_snooze_days_zero_never_snoozes(storage_config: dict[str, Any], tmp_path: Path) -> None:
    import yaml

    from service.config_files import bundled_cards_dir

    values = yaml.safe_load((bundled_cards_dir() / "thresholds.yaml").read_text())
    values["snooze_days"]["tier-2"] = 0
    path = tmp_path / "thresholds.yaml"
    path.write_text(yaml.safe_dump(values))
    app = _unsigned_app(storage_config, THRESHOLDS_FILE=str(path))
    client = app.test_client()
    override(app, card_of(client.post(HOOK, json=sandbox_body()), "tier-2")["uuid"])
    assert topics(client.post(HOOK, json=sandbox_body())) == ["tier-2", "albuterol"]


def test_a_database_that_cannot_answer_shows_the_cards_and_counts_it(
    storage_config: dict[str, Any], refused_port: int, tmp_path: Path
) -> None:
    """The database down: cards shown unsnoozed, the failed read counted; while recording
    is paused after the failure, the read is not even tried (and counted as paused)."""
    config = dict(storage_config)
    if "DATABASE_URL" in config:
        config["DATABASE_URL"] = f"postgresql://mcas@127.0.0.1:{refused_port}/gone"
    else:
        (tmp_path / "not-a-dir").write_text("a file where the database folder should be")
        config["DATABASE_URL"] = f"sqlite:///{tmp_path}/not-a-dir/db.sqlite3"
    app = _unsigned_app(config, SNOOZE_READ_BUDGET_MS=100)
    client = app.test_client()
    errors = sample_value("mcas_snooze_read_failures_total", reason="error")
    paused = sample_value("mcas_snooze_read_failures_total", reason="paused")
    assert topics(client.post(HOOK, json=sandbox_body())) == ["tier-2", "albuterol"]
    assert sample_value("mcas_snooze_read_failures_total", reason="error") == errors + 1
    assert topics(client.post(HOOK, json=sandbox_body())) == ["tier-2", "albuterol"]
    assert sample_value("mcas_snooze_read_failures_total", reason="paused") == paused + 1


def test_a_read_past_its_budget_shows_the_cards(
    backend: str, storage_config: dict[str, Any]
) -> None:
    """PostgreSQL with the cards table locked by another session: the read waits past its
    100 ms budget, the hook answers with the cards and counts a timeout."""
    if backend != "postgresql":
        pytest.skip("a table lock that blocks readers needs PostgreSQL")
    roomy = _unsigned_app(storage_config)
    first = roomy.test_client().post(HOOK, json=sandbox_body())
    override(roomy, card_of(first, "tier-2")["uuid"])
    assert topics(roomy.test_client().post(HOOK, json=sandbox_body())) == ["albuterol"]

    app = _unsigned_app(storage_config, SNOOZE_READ_BUDGET_MS=100)  # the rules' budget
    client = app.test_client()
    engine = app.extensions["mcas_storage"].engine()
    locker = engine.connect()
    try:
        locker.execute(text("BEGIN"))
        locker.execute(text("LOCK TABLE issued_cards IN ACCESS EXCLUSIVE MODE"))
        timeouts = sample_value("mcas_snooze_read_failures_total", reason="timeout")
        # The snoozed card is shown: its snooze could not be read in time.
        assert topics(client.post(HOOK, json=sandbox_body())) == ["tier-2", "albuterol"]
        assert sample_value("mcas_snooze_read_failures_total", reason="timeout") == timeouts + 1
    finally:
        locker.execute(text("ROLLBACK"))
        locker.close()
