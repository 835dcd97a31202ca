"""The daily roll-up changes no number of the outcomes report (issue 16).

For generated histories (cards of two topics and several services over six days, snoozed
and test rows, repeated, late and early-dated feedback, feedback for unknown cards) with
roll-ups run at random moments, the report read through the roll-up equals the report
computed from the raw rows alone, for several periods (partial days included), with and
without test traffic, for all topics and for one. On SQLite with hypothesis; one history
on real PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select

from service.storage.migrate import upgrade
from service.storage.models import report_rollup_days
from service.storage.report import outcomes_report
from tests.support.rollup_history import (
    DAYS,
    PERIODS,
    Card,
    Feedback,
    History,
    at,
    histories,
    replay,
)

_DEEP = os.environ.get("MCAS_PROPERTY_EXAMPLES")
PROPERTY = settings(
    max_examples=int(_DEEP or "150"),
    derandomize=_DEEP is None,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
OPTIONS = ({}, {"include_test": True}, {"topic": "tier-2"})


@pytest.fixture(scope="module")
def template() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="mcas-rollup-"))
    path = folder / "template.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield path
    shutil.rmtree(folder, ignore_errors=True)


def _assert_same(engine: Any, now_minute: int, periods: Any = PERIODS,
                 options: Any = OPTIONS) -> None:
    now = at(now_minute)
    for since, until in periods:
        for option in options:
            raw = outcomes_report(engine, since, until, now=now, rollup=False, **option)
            rolled = outcomes_report(engine, since, until, now=now, **option)
            assert rolled == raw, (since, until, option)


@pytest.mark.slow
@PROPERTY
@given(history=histories, period=st.sampled_from(PERIODS), option=st.sampled_from(OPTIONS))
def test_rolled_up_report_equals_the_raw_one(template: Path, history: History,
                                             period: Any, option: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "db.sqlite3"
        shutil.copy(template, path)
        engine = create_engine(f"sqlite:///{path}")
        try:
            replay(engine, history)
            # "now" once every day of the history is closed, and once in its middle
            for now_minute in (max(history.rollups, default=0) + 1, (DAYS + 6) * 1440):
                note(f"now: {at(now_minute).isoformat()}")
                _assert_same(engine, now_minute, [period], [option])
        finally:
            engine.dispose()


# A fixed history with every case the generator covers: late and repeated feedback, test
# and snoozed rows, both topics and services, feedback for a card never recorded.
FIXED = History(
    cards=[
        Card(30, "tier-2", "patient-view", "issued", False, 0, "sha256:aa", None),
        Card(1500, "tier-2", "order-select", "issued", False, 1, "sha256:aa", "2"),
        Card(1510, "albuterol", "patient-view", "snoozed", False, 1, "sha256:bb", "2"),
        Card(2900, "albuterol", "order-sign", "issued", True, 2, "sha256:bb", "2"),
        Card(4400, "tier-2", "patient-view", "issued", False, 3, None, "3"),
    ],
    feedback=[
        Feedback(0, 10, "accepted", 0, 0, False),
        Feedback(0, 3000, "accepted", 2900, 0, True),  # repeated, dated earlier, late
        Feedback(1, 2000, "overridden", 1900, 1, False),  # late: day already rolled up
        Feedback(1, 2100, "overridden", 0, 2, True),
        Feedback(3, 60, "overridden", 10, 0, False),  # test traffic
        Feedback(-1, 4500, "accepted", 0, 0, False),  # a card never recorded
        Feedback(4, 5, "overridden", -5, 1, False),
    ],
    rollups=[1450, 2950, 3000, 5000, 7000],
)


def test_rolled_up_report_equals_the_raw_one_on_postgresql(
    fresh_postgres_url: Any,
) -> None:
    url = fresh_postgres_url(True).replace("postgresql:", "postgresql+psycopg:")
    engine = create_engine(url)
    try:
        replay(engine, FIXED)
        for now_minute in (7001, (DAYS + 6) * 1440):
            _assert_same(engine, now_minute)
        with engine.connect() as connection:
            days = connection.execute(select(func.count()).select_from(report_rollup_days))
            assert int(days.scalar_one()) >= DAYS
    finally:
        engine.dispose()


def test_the_fixed_history_on_sqlite_counts_late_feedback(template: Path,
                                                          tmp_path: Path) -> None:
    """The same history on SQLite; the late override of the order card counts once."""
    path = tmp_path / "db.sqlite3"
    shutil.copy(template, path)
    engine = create_engine(f"sqlite:///{path}")
    try:
        replay(engine, FIXED)
        _assert_same(engine, 7001)
        report = outcomes_report(engine, at(0), at(0) + timedelta(days=DAYS), now=at(7001))
        services = {row["service"]: row for row in report["services"]}
        assert services["order-time"]["overridden"] == 1  # the test card's is left out
        topics = {row["topic"]: row for row in report["topics"]}
        assert topics["tier-2"]["accepted"] == 1 and topics["tier-2"]["overridden"] == 2
        assert topics["unknown"]["accepted"] == 1
        assert topics["albuterol"]["snoozed"] == 1
        assert [r["rules_version"] for r in report["rules_versions"]] == ["unknown", "2", "3"]
    finally:
        engine.dispose()


def test_a_report_with_a_time_budget_rolls_up_one_batch_and_reads_the_rest_live(
    template: Path, tmp_path: Path,
) -> None:
    """Over HTTP the report starts no new roll-up batch once its budget is spent (the
    first batch always runs): the days left are read live, the numbers are the same, and
    each report moves the roll-up on by a batch (BATCH_DAYS)."""
    from sqlalchemy import select as select_

    from service.storage.models import report_rollup_state
    from service.storage.rollup import BATCH_DAYS

    path = tmp_path / "db.sqlite3"
    shutil.copy(template, path)
    engine = create_engine(f"sqlite:///{path}")
    try:
        cards = [Card(day * 1440 + 600, "tier-2", "patient-view", "issued", False, day % 3,
                      "sha256:aa", "2") for day in range(20)]
        answers = [Feedback(index, 30, "accepted", 0, 0, False) for index in range(0, 20, 3)]
        replay(engine, History(cards=cards, feedback=answers, rollups=[]))
        now, since, until = at(22 * 1440), at(0), at(21 * 1440)
        closed = []
        for _ in range(2):
            rolled = outcomes_report(engine, since, until, now=now, rollup_budget=0.0)
            assert rolled == outcomes_report(engine, since, until, now=now, rollup=False)
            with engine.connect() as connection:
                closed.append(connection.execute(
                    select_(report_rollup_state.c.closed_until)).scalar_one())
        assert closed == [at(BATCH_DAYS * 1440), at(2 * BATCH_DAYS * 1440)]
        assert rolled["topics"][0]["issued"] == 20 and rolled["topics"][0]["accepted"] == 7
    finally:
        engine.dispose()
