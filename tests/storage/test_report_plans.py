"""The outcomes report's queries read through indexes (issue 16), on SQLite and PostgreSQL.

Every SELECT the report runs is captured and explained: the first report (which fills the
daily roll-up: its reads of the raw rows of the closed days) and the next one (the
roll-up's rows, today's live rows, late feedback and, with a tiny exact limit, the
distinct-patient sketches). On SQLite no table is SCANned (EXPLAIN QUERY PLAN: SEARCH ...
USING INDEX or the primary key); on PostgreSQL, with sequential scans priced out
(enable_seqscan off: a table without a usable index still gets one), no ``Seq Scan``
remains. Filters included: a topic, test traffic in or out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from service.storage import report
from service.storage.report import outcomes_report
from tests.support.storage_fixtures import NOW, engine_of

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)


def _statements(engine: Any, **options: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        outcomes_report(engine, SINCE, UNTIL, now=NOW, **options)  # fills the roll-up
        filled = len(seen)
        outcomes_report(engine, SINCE, UNTIL, now=NOW, **options)  # reads it
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    assert len(seen) > filled
    return [(statement, parameters) for statement, parameters in seen
            if statement.lstrip().upper().startswith("SELECT")]


def _plans(engine: Any, statements: list[tuple[str, Any]]) -> list[list[str]]:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        plans = []
        for statement, parameters in statements:
            if engine.dialect.name == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                plans.append([str(row[-1]) for row in cursor.fetchall()])
            else:
                cursor.execute("SET enable_seqscan = off")
                cursor.execute("EXPLAIN " + statement, parameters)
                plans.append([str(row[0]) for row in cursor.fetchall()])
        return plans
    finally:
        raw.close()


@pytest.mark.parametrize("estimated", [False, True], ids=["exact", "sketches"])
@pytest.mark.parametrize("options", [{}, {"topic": "tier-2"}, {"include_test": True}],
                         ids=["all", "topic", "with-test"])
def test_every_report_query_uses_an_index(storage_app: Flask, options: dict[str, Any],
                                          estimated: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if estimated:
        monkeypatch.setattr(report, "EXACT_PATIENTS_LIMIT", -1)
    engine = engine_of(storage_app)
    statements = _statements(engine, **options)
    assert len(statements) >= 6
    for (statement, _), plan in zip(statements, _plans(engine, statements), strict=True):
        text = "\n".join(plan)
        if engine.dialect.name == "sqlite":
            # a SCAN of a subquery's rows (anon_1) is no table scan
            scans = [line for line in plan
                     if line.startswith("SCAN ") and not line.startswith("SCAN anon_")]
            assert not scans, f"{statement}\n{text}"
            assert "USING" in text and ("INDEX" in text or "PRIMARY KEY" in text), (
                f"{statement}\n{text}")
        else:
            assert "Seq Scan" not in text, f"{statement}\n{text}"
            assert "Index" in text, f"{statement}\n{text}"
