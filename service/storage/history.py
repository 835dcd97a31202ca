"""``CardHistory`` (service/pipeline/ports.py) from the issued-cards and feedback tables,
and the administrators' list and clearing of a patient's snoozes.

The hook reads the history within a budget (docs/clinical-rules.md §8: 100 ms), counted
from a connection in hand: the statement is aborted when it passes (PostgreSQL
``statement_timeout`` on a small pool of its own, in autocommit: one round trip; an
SQLite progress handler), and a read answered after it counts as late (cards shown).
It shares card recording's back-off (service/storage/issued.py): while recording is
paused after a database failure the read is not tried, and a failed or cancelled read
pauses both, so an outage costs the hook one failed read per back-off period, not one
per call (opening a connection to an unreachable server is bounded by
MCAS_DB_TIMEOUT_SECONDS, as for recording). Any failure raises ``StorageUnavailable``
(the core then shows the cards) and is counted in /metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from service.errors import StorageUnavailable
from service.ops import metrics
from service.pipeline.ports import PastCard
from service.storage.database import Storage
from service.storage.issued import RECORDING_BACKOFF_SECONDS, _safe_reason
from service.storage.models import UTCDateTime, feedback, issued_cards
from service.storage.patient_hash import context_hash, patient_hash

log = logging.getLogger(__name__)

# docs/clinical-rules.md §8: the snooze read's budget.
SNOOZE_READ_BUDGET_SECONDS = 0.1

def _query(answered_only: bool) -> Select[Any]:
    """The patient's cards since ``since`` with their feedback; ``answered_only``: only the
    cards with feedback, found from the feedback side (its patient hash, 0008), so the
    read costs what the patient's answered cards cost, not every card they were ever
    shown; otherwise all the patient's cards (index on (patient_hash, topic, issued_at))
    with their feedback, if any. Built once, with bound parameters: building a statement
    per call costs more than running it."""
    if answered_only:
        joined = feedback.join(issued_cards, feedback.c.card_uuid == issued_cards.c.card_uuid)
        patient = feedback.c.patient_hash == bindparam("hashed")
    else:
        joined = issued_cards.outerjoin(
            feedback, feedback.c.card_uuid == issued_cards.c.card_uuid
        )
        patient = issued_cards.c.patient_hash == bindparam("hashed")
    return (
        select(
            issued_cards.c.card_uuid,
            issued_cards.c.topic,
            issued_cards.c.issued_at,
            feedback.c.outcome,
            feedback.c.outcome_at,
            feedback.c.override_code,
            issued_cards.c.fingerprint,
            issued_cards.c.status,
            issued_cards.c.snooze_key,
            issued_cards.c.snooze_cleared_at,
            issued_cards.c.hook,
            issued_cards.c.draft_order_id,
            issued_cards.c.user_hash,
        )
        .select_from(joined)
        .where(
            patient,
            issued_cards.c.issued_at >= bindparam("since", type_=UTCDateTime()),
        )
        .order_by(issued_cards.c.issued_at, issued_cards.c.id, feedback.c.outcome_at)
    )


_ALL_CARDS = _query(answered_only=False)
_ANSWERED_CARDS = _query(answered_only=True)


@contextmanager
def _deadline(connection: Connection, deadline: float) -> Iterator[None]:
    """Abort the statements run inside once ``deadline`` (monotonic) passes, in the calling
    thread (a hand-off to another thread costs milliseconds on a loaded host):
    PostgreSQL by the read engine's ``statement_timeout`` (lock waits included), SQLite by
    a progress handler (its WAL readers never wait for writers)."""
    if deadline <= time.monotonic():
        raise TimeoutError("no time left for the read")
    if connection.dialect.name == "postgresql":
        yield  # the read engine's connections carry statement_timeout (Storage.read_engine)
        return
    raw = connection.connection.driver_connection
    handler = getattr(raw, "set_progress_handler", None)
    if handler is None:
        yield
        return
    handler(lambda: 1 if time.monotonic() > deadline else 0, 1000)
    try:
        yield
    finally:
        handler(None, 0)


def _read(
    connection: Connection,
    hashed: str,
    since: datetime,
    topics: Collection[str] | None = None,
    user_hash: str | None = None,
) -> list[PastCard]:
    statement = _ALL_CARDS if topics is None else _ANSWERED_CARDS
    rows = connection.execute(statement, {"hashed": hashed, "since": since}).all()
    # One PastCard per card: later feedback rows (ordered by outcome_at) replace earlier.
    cards: dict[str, PastCard] = {}
    for row in rows:
        if topics is None or row.topic in topics:
            # by name: other services add fields to PastCard (merge-safe). The core never
            # sees the user's hash, only whether the card was issued to this call's user.
            values = row._asdict()
            draft_order = values.pop("draft_order_id")
            card_user = values.pop("user_hash")
            cards[row.card_uuid] = PastCard(
                **values,
                draft_order=draft_order,
                same_user=user_hash is not None and card_user == user_hash,
            )
    return list(cards.values())


class StoredCardHistory:
    """Reads a patient's past cards by the salted patient hash the cards were recorded with.

    ``budget``: seconds the caller waits for the read (the hook: 100 ms); None waits as
    long as the database takes (administrators, tests).
    """

    def __init__(self, store: Storage, budget: float | None = None) -> None:
        self._store = store
        self._budget = budget

    def past_cards(
        self, patient_id: str, since: datetime, user_id: str | None = None
    ) -> Sequence[PastCard]:
        return self._history(patient_id, since, None, user_id)

    def answered_cards(
        self,
        patient_id: str,
        since: datetime,
        topics: Collection[str],
        user_id: str | None = None,
    ) -> Sequence[PastCard]:
        return self._history(patient_id, since, topics, user_id)

    def _history(
        self,
        patient_id: str,
        since: datetime,
        topics: Collection[str] | None,
        user_id: str | None,
    ) -> list[PastCard]:
        if self._budget is None:
            salt = self._store.salt()
            hashed = patient_hash(salt, patient_id)
            user_hash = context_hash(salt, "user", user_id) if user_id else None
            try:
                with self._store.engine().connect() as connection:
                    return _read(connection, hashed, since, topics, user_hash)
            except SQLAlchemyError as exc:
                raise StorageUnavailable("The card history could not be read.") from exc
        return self._within_budget(patient_id, since, topics, user_id, self._budget)

    def _within_budget(
        self,
        patient_id: str,
        since: datetime,
        topics: Collection[str] | None,
        user_id: str | None,
        budget: float,
    ) -> list[PastCard]:
        store = self._store
        if time.monotonic() < store.recording_paused_until:
            metrics.record_snooze_read_failure("paused")
            raise StorageUnavailable("The card history is not read after a database failure.")
        try:
            salt = store.salt()
            hashed = patient_hash(salt, patient_id)
            user_hash = context_hash(salt, "user", user_id) if user_id else None
            # Had before the budget starts: the engine (and SQLite's first migration) is a
            # cost recording pays anyway; a database that is down fails below, in time.
            engine = store.read_engine(budget)
        except Exception as exc:  # any failure: the cards are shown unsnoozed
            self._fail("error", f"{type(exc).__name__}: {_safe_reason(exc)}")
            raise StorageUnavailable("The card history could not be read.") from exc
        deadline = time.monotonic() + budget
        try:
            with engine.connect() as connection:
                # The budget counts from a connection in hand: opening one (the first read
                # of a worker) is bounded by MCAS_DB_TIMEOUT_SECONDS, as for recording, and
                # a server that refuses fails at once.
                deadline = time.monotonic() + budget
                with connection.begin(), _deadline(connection, deadline):
                    cards = _read(connection, hashed, since, topics, user_hash)
        except Exception as exc:  # any failure: the cards are shown unsnoozed
            late = time.monotonic() >= deadline
            self._fail("timeout" if late else "error", f"{type(exc).__name__}: "
                       f"{_safe_reason(exc)}")
            raise StorageUnavailable("The card history could not be read.") from exc
        if time.monotonic() > deadline:
            # Read, but after the budget (a loaded host, a slow disk): the
            # cards are shown and it is counted; the database answered, so neither the
            # reads nor recording pause.
            self._fail("timeout", "answered after its budget", pause=False)
            raise StorageUnavailable("The card history could not be read in time.")
        return cards

    def _fail(self, reason: str, detail: str, *, pause: bool = True) -> None:
        metrics.record_snooze_read_failure(reason)
        if not pause:
            log.warning("snooze read %s, cards shown unsnoozed", detail)
            return
        self._store.recording_paused_until = time.monotonic() + RECORDING_BACKOFF_SECONDS
        log.warning(
            "snooze read failed (%s), cards shown unsnoozed; recording and snooze reads "
            "pause for %.0f s", detail, RECORDING_BACKOFF_SECONDS,
        )


def clear_snoozes(
    store: Storage, patient_id: str, now: datetime, topic: str | None = None
) -> int:
    """Mark the patient's overridden cards (of ``topic``, else all) as no longer snoozing;
    how many cards were marked."""
    hashed = patient_hash(store.salt(), patient_id)
    condition = (
        (issued_cards.c.patient_hash == hashed)
        & (issued_cards.c.status == "issued")
        & issued_cards.c.snooze_cleared_at.is_(None)
        & issued_cards.c.card_uuid.in_(
            select(feedback.c.card_uuid).where(feedback.c.outcome == "overridden")
        )
    )
    if topic is not None:
        condition = condition & (issued_cards.c.topic == topic)
    with store.engine().begin() as connection:
        result = connection.execute(
            update(issued_cards).where(condition).values(snooze_cleared_at=now)
        )
    return int(result.rowcount or 0)
