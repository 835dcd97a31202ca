"""The outcomes report's daily roll-up: counts per closed UTC day, written once.

A day is *closed* when it ended more than ``MARGIN`` ago: a card or a feedback item is
stamped (``issued_at``, ``received_at``) when its request arrives and committed within
that request, seconds later; an hour also covers clocks of replicas a little apart. The
roll-up is filled by the report itself when it finds closed days not yet rolled up, and by
``flask --app service db purge``; never on the hook or feedback path.

One *batch* rolls up everything from the state row's ``closed_until`` to the newest closed
midnight, and the feedback received up to ``received_until`` (now - MARGIN), in ONE
transaction that starts by a compare-and-set of the state row's ``batch``: a second
instance doing the same at the same moment finds the batch number moved and writes
nothing (PostgreSQL: the UPDATE waits for the first transaction's row lock, then matches
no row; SQLite: one writer at a time). Each rolled-up day also gets a marker row
(``report_rollup_days``, the day is its primary key).

A batch counts:
- the cards issued in [closed_until, new closed_until);
- the feedback items whose outcome day lies in those days and that were received up to
  the new ``received_until``, and the items of older, already rolled-up days received
  since the previous ``received_until`` (late feedback). The report reads the live rows
  received after ``received_until`` itself, so late feedback is never lost;
- the distinct patients of each day, topic and service, as a HyperLogLog sketch.
Rows carry their batch; the report reads the rolled-up rows of batches up to the state it
read, so a batch committed while a report runs is not counted twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from time import monotonic
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, true, update

from service.ops import metrics
from service.storage import sketch
from service.storage.models import (
    feedback,
    issued_cards,
    report_daily_cards,
    report_daily_items,
    report_daily_outcomes,
    report_daily_patients,
    report_rollup_days,
    report_rollup_state,
)
from service.storage.report_rows import (
    acted_rows,
    card_rows,
    item_rows,
    patient_rows,
    unindexed,
)
from service.storage.upsert import insert_or_ignore

log = logging.getLogger(__name__)

MARGIN = timedelta(hours=1)
# A batch covers at most this many days (about 20,000 cards a week at a million a year:
# about a second); a report over HTTP starts no new batch after REPORT_BUDGET_SECONDS.
BATCH_DAYS = 7
REPORT_BUDGET_SECONDS = 5.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROLLUP_TABLES = (report_daily_cards, report_daily_outcomes, report_daily_items,
                 report_daily_patients)


@dataclass(frozen=True)
class State:
    batch: int
    closed_until: datetime  # a UTC midnight: days before it are rolled up
    received_until: datetime  # feedback received up to this is in the roll-up


def midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC)


@lru_cache(maxsize=4096)
def monday(day: str) -> str:
    """The Monday (UTC) of the week of ``day``, both YYYY-MM-DD."""
    moment = date.fromisoformat(day)
    return (moment - timedelta(days=moment.weekday())).isoformat()


def closed_until(now: datetime) -> datetime:
    """The end of the newest closed day: days before it are rolled up when asked."""
    return midnight(now - MARGIN)


def day_text(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def read_state(connection: Connection) -> State | None:
    row = connection.execute(
        select(report_rollup_state.c.batch, report_rollup_state.c.closed_until,
               report_rollup_state.c.received_until)
        .where(report_rollup_state.c.id == 1)
    ).first()
    return None if row is None else State(row[0], row[1], row[2])


def roll_up(engine: Engine, now: datetime, *, by: str = "report",
            budget_seconds: float | None = None) -> int:
    """Roll up the closed days not rolled up yet, oldest first, in batches of at most
    ``BATCH_DAYS`` days; the number of days this call wrote (0 when there was none, or
    another instance is doing it). With ``budget_seconds`` it starts no new batch once
    that time is spent: a report served over HTTP stays within the worker's timeout, and
    the days left are read live and rolled up by the next report."""
    started = monotonic()
    target = closed_until(now)
    state = _state(engine, now, target)
    total = 0
    while state.closed_until < target:
        if budget_seconds is not None and total and monotonic() - started >= budget_seconds:
            break
        step = min(target, state.closed_until + timedelta(days=BATCH_DAYS))
        received = max(state.received_until, now - MARGIN)
        batch = state.batch + 1
        with engine.begin() as connection:
            # First statement: the compare-and-set (takes the write lock before any read).
            moved = connection.execute(
                update(report_rollup_state)
                .where((report_rollup_state.c.id == 1)
                       & (report_rollup_state.c.batch == state.batch))
                .values(batch=batch, closed_until=step, received_until=received,
                        updated_at=now)
            ).rowcount
            if moved != 1:  # another instance is rolling up: leave it to it
                connection.rollback()
                break
            days = _write_batch(connection, state, batch, step, received, now)
        metrics.record_rolled_up(days, by)
        log.info("outcomes roll-up: batch %d, %d day(s) up to %s", batch, days, day_text(step))
        total += days
        state = State(batch, step, received)
    return total


def _state(engine: Engine, now: datetime, target: datetime) -> State:
    """The roll-up's state; made on first use, starting at the first day with data (or
    at ``target`` in an empty database: cards are never recorded in the past)."""
    with engine.connect() as connection:
        state = read_state(connection)
        if state is not None:
            return state
        firsts = [connection.execute(select(func.min(issued_cards.c.issued_at))).scalar(),
                  connection.execute(select(func.min(feedback.c.outcome_at))).scalar()]
    found = [moment for moment in firsts if moment is not None]
    start = min(midnight(min(found)), target) if found else target
    with engine.begin() as connection:
        insert_or_ignore(connection, report_rollup_state, {
            "id": 1, "batch": 0, "closed_until": start, "received_until": EPOCH,
            "updated_at": now}, "id")
    with engine.connect() as connection:
        made = read_state(connection)
    assert made is not None
    return made


def _write_batch(connection: Connection, state: State, batch: int, target: datetime,
                 received: datetime, now: datetime) -> int:
    start = state.closed_until
    cards_in = (issued_cards.c.issued_at >= start) & (issued_cards.c.issued_at < target)
    card_counts = [
        {"batch": batch, "day": day, "week": monday(day), "topic": topic, "service": service,
         "thresholds_version": tv, "rules_version": rv, "test": bool(test),
         "status": status, "cards": count}
        for topic, service, tv, rv, day, status, test, count in card_rows(connection, cards_in)
    ]
    # New feedback: items of the newly closed days received up to the watermark, and
    # items of days rolled up before, received since the previous watermark.
    new_days = ((feedback.c.outcome_at >= start) & (feedback.c.outcome_at < target)
                & (unindexed(feedback.c.received_at) <= received))
    late = ((feedback.c.received_at > state.received_until)
            & (feedback.c.received_at <= received)
            & (unindexed(feedback.c.outcome_at) < start))
    outcome_counts: list[dict[str, Any]] = []
    item_counts: list[dict[str, Any]] = []
    for where in (new_days, late):
        outcome_counts.extend(
            {"batch": batch, "day": day, "week": monday(day), "topic": topic,
             "service": service, "thresholds_version": tv, "rules_version": rv,
             "test": bool(test), "outcome": outcome, "cards": count}
            for topic, service, tv, rv, day, outcome, test, count in acted_rows(connection, where)
        )
        item_counts.extend(
            {"batch": batch, "day": day, "topic": topic, "test": bool(test), "outcome": outcome,
             "override_system": system, "override_code": code, "override_display": display,
             "items": count, "comments": comments}
            for topic, day, test, outcome, system, code, display, count, comments
            in item_rows(connection, where)
        )
    sketches: dict[tuple[str, str, str, bool], list[str]] = defaultdict(list)
    for day, topic, service, test, patient in patient_rows(connection, cards_in):
        sketches[(day, topic, service, bool(test))].append(patient)
    patient_counts = [
        {"batch": batch, "day": day, "topic": topic, "service": service, "test": test,
         "sketch": sketch.dump(sketch.add(sketch.empty(), patients))}
        for (day, topic, service, test), patients in sketches.items()
    ]
    for table, rows in ((report_daily_cards, card_counts),
                        (report_daily_outcomes, outcome_counts),
                        (report_daily_items, item_counts),
                        (report_daily_patients, patient_counts)):
        if rows:
            connection.execute(table.insert(), rows)
    days = _days(start, target)
    if days:
        connection.execute(report_rollup_days.insert(),
                           [{"day": day, "batch": batch, "rolled_at": now} for day in days])
    return len(days)


def _days(start: datetime, target: datetime) -> list[str]:
    """The days of [start, target), each to get its marker row."""
    begin = start.date()
    days = []
    while begin < target.date():
        days.append(begin.isoformat())
        begin += timedelta(days=1)
    return days


def purge_before(connection: Connection, before: datetime | None,
                 test_before: datetime, apply: bool) -> dict[str, int]:
    """Retention for the roll-up: rows of days wholly before ``before`` (any) or
    ``test_before`` (test traffic), sketches included; counted, or deleted with ``apply``."""
    counts: dict[str, int] = {}
    for table in (*ROLLUP_TABLES, report_rollup_days):
        conditions = []
        if before is not None:
            conditions.append(table.c.day < day_text(before))
        if "test" in table.c:
            conditions.append((table.c.test == true()) & (table.c.day < day_text(test_before)))
        if not conditions:
            counts[table.name] = 0
            continue
        condition = conditions[0]
        for more in conditions[1:]:
            condition = condition | more
        if apply:
            counts[table.name] = connection.execute(delete(table).where(condition)).rowcount
        else:
            counts[table.name] = int(connection.execute(
                select(func.count()).select_from(table).where(condition)).scalar_one())
    return counts
