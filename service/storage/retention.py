"""Retention: deleting issued cards, feedback, snoozes and test traffic past their days.

``MCAS_RETENTION_DAYS`` bounds every record of clinical use (unset: kept); test traffic
(rows marked ``test``, from ``mcas-cds check``) goes after ``MCAS_TEST_RETENTION_DAYS``.
``flask --app service db purge`` counts what would go and deletes only with ``--apply``
(docs/operations.md "Retention"). Each table is purged by its own time column through its
index, in one transaction, so a purge stopped half-way leaves whole tables done or not.

The outcomes report's daily roll-up (service/storage/rollup.py) holds counts and patient
sketches per day: an applied purge first rolls up the closed days not rolled up yet (so
the report's numbers for the days kept do not change), then deletes the roll-up's rows of
days wholly before the retention (test traffic's before its own), sketches included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, ColumnElement, Engine, Table, delete, func, select, true

from service.storage.models import metadata
from service.storage.rollup import purge_before, roll_up

# table name -> the column that dates its rows. Snoozes are issued_cards rows (status
# "snoozed", migration 0005), so they go with the cards; test rows carry ``test``.
DATED_BY = {
    "issued_cards": "issued_at",
    "feedback": "received_at",
}


@dataclass(frozen=True)
class Purge:
    """What a purge removed (or, in a dry run, would remove), per table."""

    before: datetime | None  # clinical records older than this (None: no retention set)
    test_before: datetime
    rows: dict[str, int]
    applied: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "before": None if self.before is None else _iso(self.before),
            "test_before": _iso(self.test_before),
            "rows": dict(self.rows),
            "applied": self.applied,
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _tables() -> list[tuple[Table, Column[datetime]]]:
    found = []
    for name, column in DATED_BY.items():
        table = metadata.tables.get(name)
        if table is not None and column in table.c:
            found.append((table, table.c[column]))
    return found


def _old(table: Table, dated: Column[datetime], before: datetime | None,
         test_before: datetime) -> ColumnElement[bool] | None:
    """Rows past retention: any row before ``before``; test rows before ``test_before``."""
    condition: ColumnElement[bool] | None = None
    if before is not None:
        condition = dated < before
    if "test" in table.c:
        test_old = (table.c.test == true()) & (dated < test_before)
        condition = test_old if condition is None else (condition | test_old)
    return condition


def purge(
    engine: Engine,
    *,
    now: datetime,
    retention_days: int | None,
    test_retention_days: int,
    apply: bool,
) -> Purge:
    before = now - timedelta(days=retention_days) if retention_days is not None else None
    test_before = now - timedelta(days=test_retention_days)
    rows: dict[str, int] = {}
    if apply:
        roll_up(engine, now, by="purge")
    with engine.begin() as connection:
        for table, dated in _tables():
            condition = _old(table, dated, before, test_before)
            if condition is None:
                rows[table.name] = 0
                continue
            if apply:
                rows[table.name] = connection.execute(delete(table).where(condition)).rowcount
            else:
                counted = select(func.count()).select_from(table).where(condition)
                rows[table.name] = int(connection.execute(counted).scalar_one())
        rows.update(purge_before(connection, before, test_before, apply))
    return Purge(before, test_before, rows, apply)

