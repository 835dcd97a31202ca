"""The outcomes report's reads of the raw rows (issued cards, feedback), grouped by day.

Used twice, with the same meaning: by the report for the parts of its period that are not
rolled up (today, partial days, late feedback) and by the roll-up (service/storage/rollup.py)
to count a closed day once. Every read goes through an index (migrations 0007, 0009;
tests/storage/test_report_plans.py).

"A card counts once per outcome": on the UTC day of the ``outcomeTimestamp`` of the first
item of that outcome the service *received* for it (earliest ``received_at``, then the
lowest id). Later items of the same outcome for the card are not counted again, and, unlike
"the earliest outcome time", the choice never changes once made, so a day rolled up stays
right when an older-dated item arrives late.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)

from service.storage.feedback_store import UNKNOWN_TOPIC
from service.storage.models import feedback, issued_cards

PATIENT_VIEW = "patient-view"
ORDER_TIME = "order-time"
UNKNOWN_VERSION = "unknown"


def service_of(hook: Column[Any]) -> ColumnElement[str]:
    """patient-view for cards of that hook (and rows from before the hook was recorded),
    order-time for the order hooks (order-select, order-sign)."""
    return case((hook.like("order-%"), literal(ORDER_TIME)), else_=literal(PATIENT_VIEW))


def day_of(moment: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC date of ``moment`` as text YYYY-MM-DD, cheaply.

    SQLite stores the UTC wall time as text ("2026-11-25 12:00:00.000000"), so its first
    ten characters are the date; PostgreSQL converts the instant to UTC first.
    """
    # Literal SQL, not bound parameters: the same expression in SELECT and GROUP BY must
    # read the same to PostgreSQL.
    if dialect == "postgresql":
        return func.to_char(func.timezone(literal_column("'UTC'"), moment),
                            literal_column("'YYYY-MM-DD'"))
    return func.substr(moment, literal_column("1"), literal_column("10"))


def unindexed(column: Column[Any]) -> ColumnElement[Any]:
    """The column as an expression no index serves: a filter on it must not steer the
    planner away from the selective index of the same query (SQLite picks indexes by
    fixed guesses for ranges)."""
    return func.coalesce(column, column)


def _version(column: Column[Any]) -> ColumnElement[str]:
    return func.coalesce(column, UNKNOWN_VERSION)


def first_received() -> ColumnElement[bool]:
    """The feedback item is the first of its outcome received for its card."""
    earlier = feedback.alias("earlier")
    return ~exists().where(
        earlier.c.card_uuid == feedback.c.card_uuid,
        earlier.c.outcome == feedback.c.outcome,
        or_(earlier.c.received_at < feedback.c.received_at,
            and_(earlier.c.received_at == feedback.c.received_at,
                 earlier.c.id < feedback.c.id)),
    )


def card_rows(connection: Connection, where: ColumnElement[bool]) -> Iterator[tuple[Any, ...]]:
    """(topic, service, thresholds version, rules version, day, status, test, cards)."""
    dialect = connection.dialect.name
    service = service_of(issued_cards.c.hook)
    tv = _version(issued_cards.c.thresholds_version)
    rv = _version(issued_cards.c.rules_version)
    day = day_of(issued_cards.c.issued_at, dialect)
    yield from connection.execute(
        select(issued_cards.c.topic, service, tv, rv, day, issued_cards.c.status,
               issued_cards.c.test, func.count())
        .where(where)
        .group_by(issued_cards.c.topic, service, tv, rv, day, issued_cards.c.status,
                  issued_cards.c.test)
    )


def acted_topic() -> ColumnElement[str]:
    return func.coalesce(issued_cards.c.topic, feedback.c.topic, UNKNOWN_TOPIC)


def acted_rows(connection: Connection, where: ColumnElement[bool]) -> Iterator[tuple[Any, ...]]:
    """Cards counted per outcome: (topic, service, thresholds version, rules version, day of
    the outcome, outcome, test, cards), for the first-received items matching ``where``.
    The topic is the card's (the feedback's own for a card the service never recorded)."""
    dialect = connection.dialect.name
    topic = acted_topic()
    service = service_of(issued_cards.c.hook)
    tv = _version(issued_cards.c.thresholds_version)
    rv = _version(issued_cards.c.rules_version)
    day = day_of(feedback.c.outcome_at, dialect)
    yield from connection.execute(
        select(topic, service, tv, rv, day, feedback.c.outcome, feedback.c.test, func.count())
        .select_from(feedback.outerjoin(
            issued_cards, issued_cards.c.card_uuid == feedback.c.card_uuid))
        .where(where & first_received())
        .group_by(topic, service, tv, rv, day, feedback.c.outcome, feedback.c.test)
    )


def item_rows(connection: Connection, where: ColumnElement[bool]) -> Iterator[tuple[Any, ...]]:
    """Feedback items: (topic, day, test, outcome, reason system, code, display, items,
    comments), by the topic stored with the feedback (no join)."""
    day = day_of(feedback.c.outcome_at, connection.dialect.name)
    yield from connection.execute(
        select(feedback.c.topic, day, feedback.c.test, feedback.c.outcome,
               feedback.c.override_system, feedback.c.override_code,
               func.max(feedback.c.override_display), func.count(),
               func.count(feedback.c.user_comment))
        .where(where)
        .group_by(feedback.c.topic, day, feedback.c.test, feedback.c.outcome,
                  feedback.c.override_system, feedback.c.override_code)
    )


def patient_rows(connection: Connection,
                 where: ColumnElement[bool]) -> Iterator[tuple[Any, ...]]:
    """(day, topic, service, test, patient hash) of shown cards matching ``where``, for
    the distinct-patient sketches (a sketch ignores repeats, so no GROUP BY: no sort)."""
    dialect = connection.dialect.name
    service = service_of(issued_cards.c.hook)
    day = day_of(issued_cards.c.issued_at, dialect)
    yield from connection.execute(
        select(day, issued_cards.c.topic, service, issued_cards.c.test,
               issued_cards.c.patient_hash)
        .where(where & (issued_cards.c.status == "issued"))
    )
