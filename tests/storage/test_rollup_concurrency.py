"""Two instances rolling up the same closed days at the same moment count them once
(issue 16), on SQLite and PostgreSQL: both read the same roll-up state, both try to write
the batch; the compare-and-set lets one through and the other writes nothing."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, insert, select

from service.storage import rollup
from service.storage.models import feedback, issued_cards, report_daily_cards, report_rollup_days
from service.storage.report import outcomes_report
from tests.support.storage_fixtures import NOW, engine_of


def _seed(engine: Any) -> None:
    with engine.begin() as connection:
        for n in range(12):
            when = NOW - timedelta(days=n % 4 + 1, hours=n)
            connection.execute(insert(issued_cards).values(
                card_uuid=f"c-{n}", topic="tier-2" if n % 2 else "albuterol",
                hook_instance="h", issued_at=when, thresholds_version="sha256:aa",
                rules_version="2", patient_hash=f"p-{n % 5}",
                hook="order-sign" if n % 3 else "patient-view"))
            connection.execute(insert(feedback).values(
                item_key=f"k-{n}", card_uuid=f"c-{n}", topic="tier-2" if n % 2 else "albuterol",
                outcome="accepted" if n % 2 else "overridden", outcome_at=when,
                received_at=when + timedelta(minutes=1)))


def test_two_instances_at_once_count_each_day_once(storage_app: Flask,
                                                   monkeypatch: Any) -> None:
    engine = engine_of(storage_app)
    _seed(engine)
    rollup.roll_up(engine, NOW - timedelta(days=10))  # the state row exists
    both_read = threading.Barrier(2, timeout=30)
    read = rollup.read_state

    def read_then_wait(connection: Any) -> Any:
        state = read(connection)
        both_read.wait()  # both instances hold the same state before either writes
        return state

    monkeypatch.setattr(rollup, "read_state", read_then_wait)
    written: list[int] = []
    errors: list[BaseException] = []

    def instance() -> None:
        try:
            written.append(rollup.roll_up(engine, NOW))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=instance) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    # one wrote the ten days since the first roll-up, the other nothing
    assert sorted(written) == [0, 10]
    monkeypatch.setattr(rollup, "read_state", read)
    with engine.connect() as connection:
        days = connection.execute(select(func.count()).select_from(report_rollup_days))
        assert int(days.scalar_one()) == 10
        cards = connection.execute(select(func.sum(report_daily_cards.c.cards)))
        assert int(cards.scalar_one()) == 12
    since, until = NOW - timedelta(days=10), NOW
    assert (outcomes_report(engine, since, until, now=NOW)
            == outcomes_report(engine, since, until, now=NOW, rollup=False))
