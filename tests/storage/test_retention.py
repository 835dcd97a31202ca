"""Retention (issue 16): `flask --app service db purge` counts by default, deletes with
--apply, only what is past MCAS_RETENTION_DAYS, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from service import create_app
from service.storage.models import feedback, issued_cards
from tests.support.storage_fixtures import NOW, engine_of


def _seed(app: Flask, ages_days: list[int]) -> None:
    with engine_of(app).begin() as connection:
        for n, age in enumerate(ages_days):
            when = NOW - timedelta(days=age)
            connection.execute(insert(issued_cards).values(
                card_uuid=f"card-{n}", topic="tier-2", hook_instance=f"h-{n}", issued_at=when,
                thresholds_version="sha256:000000000000", patient_hash="a" * 64))
            connection.execute(insert(feedback).values(
                item_key=f"k-{n}", card_uuid=f"card-{n}", topic="tier-2", outcome="accepted",
                outcome_at=when, received_at=when))


def _count(app: Flask, table: Any) -> int:
    with engine_of(app).connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def retained_app(storage_config: dict[str, Any]) -> Any:
    app = create_app({**storage_config, "RETENTION_DAYS": 365})
    yield app
    app.extensions["mcas_storage"].dispose()


def test_purge_is_a_dry_run_unless_applied(retained_app: Flask) -> None:
    _seed(retained_app, [10, 364, 366, 800])
    runner = retained_app.test_cli_runner()
    counted = runner.invoke(args=["db", "purge"])
    assert counted.exit_code == 0, counted.output
    assert "issued_cards: would delete (dry run; --apply deletes) 2 row(s)" in counted.output
    assert "feedback: would delete (dry run; --apply deletes) 2 row(s)" in counted.output
    assert _count(retained_app, issued_cards) == 4
    done = runner.invoke(args=["db", "purge", "--apply"])
    assert done.exit_code == 0, done.output
    assert "issued_cards: deleted 2 row(s)" in done.output
    assert _count(retained_app, issued_cards) == 2 and _count(retained_app, feedback) == 2
    with engine_of(retained_app).connect() as connection:
        kept = {r for (r,) in connection.execute(select(issued_cards.c.card_uuid))}
    assert kept == {"card-0", "card-1"}


def test_days_override_and_no_retention_keeps_clinical_records(storage_app: Flask) -> None:
    _seed(storage_app, [10, 400])
    runner = storage_app.test_cli_runner()
    kept = runner.invoke(args=["db", "purge", "--apply"])
    assert kept.exit_code == 0, kept.output
    assert "MCAS_RETENTION_DAYS is not set" in kept.output
    assert _count(storage_app, issued_cards) == 2
    done = runner.invoke(args=["db", "purge", "--apply", "--days", "30"])
    assert "issued_cards: deleted 1 row(s)" in done.output
    assert _count(storage_app, issued_cards) == 1
    assert runner.invoke(args=["db", "purge", "--days", "0"]).exit_code != 0


def test_test_traffic_goes_after_its_own_days(storage_app: Flask) -> None:
    from sqlalchemy import update

    _seed(storage_app, [3, 10, 10])
    with engine_of(storage_app).begin() as connection:
        connection.execute(update(issued_cards).where(
            issued_cards.c.card_uuid.in_(["card-0", "card-1"])).values(test=True))
    done = storage_app.test_cli_runner().invoke(args=["db", "purge", "--apply"])
    assert done.exit_code == 0, done.output
    # MCAS_TEST_RETENTION_DAYS (7): the 10-day-old test card goes, the real one stays
    with engine_of(storage_app).connect() as connection:
        kept = {r for (r,) in connection.execute(select(issued_cards.c.card_uuid))}
    assert kept == {"card-0", "card-2"}


def test_purge_rolls_up_first_and_deletes_old_roll_up_rows(retained_app: Flask) -> None:
    """--apply rolls up the closed days (the report's numbers for the days kept stay), then
    deletes the roll-up's rows (counts and patient sketches) of days before the retention."""
    from service.storage.models import (
        report_daily_cards,
        report_daily_patients,
        report_rollup_days,
    )
    from service.storage.report import outcomes_report

    _seed(retained_app, [10, 364, 366, 800])
    engine = engine_of(retained_app)
    period = (NOW - timedelta(days=300), NOW)
    before = outcomes_report(engine, *period, now=NOW, rollup=False)
    runner = retained_app.test_cli_runner()
    counted = runner.invoke(args=["db", "purge"])
    assert "report_daily_cards: would delete (dry run; --apply deletes) 0 row(s)" in (
        counted.output)
    assert _count(retained_app, report_daily_cards) == 0  # a dry run writes nothing
    done = runner.invoke(args=["db", "purge", "--apply"])
    assert done.exit_code == 0, done.output
    assert "report_daily_cards: deleted 2 row(s)" in done.output
    assert "report_daily_patients: deleted 2 row(s)" in done.output
    assert _count(retained_app, report_daily_cards) == 2
    assert _count(retained_app, report_daily_patients) == 2
    with engine.connect() as connection:
        days = sorted(d for (d,) in connection.execute(select(report_rollup_days.c.day)))
    assert days[0] >= (NOW - timedelta(days=365)).date().isoformat()
    assert outcomes_report(engine, *period, now=NOW) == before
