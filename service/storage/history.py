"""``CardHistory`` (service/pipeline/ports.py) from the issued-cards and feedback tables,
and the administrators' list and clearing of a patient's snoozes.

The hook reads the history within a budget (docs/clinical-rules.md §8: 100 ms): the read runs on a
small thread pool and the hook waits at most the budget for it. It shares card
recording's back-off (service/storage/issued.py): while recording is paused after a
database failure the read is not tried, and a failed or late read pauses both, so an
outage costs the hook one budget, not one per call. Any failure raises
``StorageUnavailable`` (the core then shows the cards) and is counted in /metrics.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import SQLAlchemyError

from service.errors import StorageUnavailable
from service.ops import metrics
from service.pipeline.ports import PastCard
from service.storage.database import Storage
from service.storage.issued import RECORDING_BACKOFF_SECONDS, _safe_reason
from service.storage.models import feedback, issued_cards
from service.storage.patient_hash import patient_hash

log = logging.getLogger(__name__)

# docs/clinical-rules.md §8: the snooze read's budget.
SNOOZE_READ_BUDGET_SECONDS = 0.1

_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """One small pool per process (a forked gunicorn worker makes its own)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(4, thread_name_prefix="snooze-read"))
        return _pool[1]


def _query(hashed: str, since: datetime) -> object:
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
        )
        .select_from(
            issued_cards.outerjoin(feedback, feedback.c.card_uuid == issued_cards.c.card_uuid)
        )
        .where(issued_cards.c.patient_hash == hashed, issued_cards.c.issued_at >= since)
        .order_by(issued_cards.c.issued_at, issued_cards.c.id, feedback.c.outcome_at)
    )


def _read(connection: Connection, hashed: str, since: datetime) -> list[PastCard]:
    rows = connection.execute(_query(hashed, since)).all()  # type: ignore[call-overload]
    # One PastCard per card: later feedback rows (ordered by outcome_at) replace earlier.
    cards: dict[str, PastCard] = {}
    for row in rows:
        cards[row[0]] = PastCard(*row)
    return list(cards.values())


class StoredCardHistory:
    """Reads a patient's past cards by the salted patient hash the cards were recorded with.

    ``budget``: seconds the caller waits for the read (the hook: 100 ms); None waits as
    long as the database takes (administrators, tests).
    """

    def __init__(self, store: Storage, budget: float | None = None) -> None:
        self._store = store
        self._budget = budget

    def past_cards(self, patient_id: str, since: datetime) -> Sequence[PastCard]:
        if self._budget is None:
            hashed = patient_hash(self._store.salt(), patient_id)
            try:
                with self._store.engine().connect() as connection:
                    return _read(connection, hashed, since)
            except SQLAlchemyError as exc:
                raise StorageUnavailable("The card history could not be read.") from exc
        return self._within_budget(patient_id, since, self._budget)

    def _within_budget(self, patient_id: str, since: datetime, budget: float) -> list[PastCard]:
        store = self._store
        if time.monotonic() < store.recording_paused_until:
            metrics.record_snooze_read_failure("paused")
            raise StorageUnavailable("The card history is not read after a database failure.")
        started = time.monotonic()
        future: Future[list[PastCard]] | None = None
        try:
            hashed = patient_hash(store.salt(), patient_id)
            # The engine (and, for SQLite, the first migration) is had here, not in the
            # budget: recording would pay the same cost anyway.
            engine = store.engine()

            def read() -> list[PastCard]:
                with engine.connect() as connection:
                    return _read(connection, hashed, since)

            future = _executor().submit(read)
            return future.result(timeout=max(0.0, budget - (time.monotonic() - started)))
        except FutureTimeout:
            if future is not None:
                future.cancel()  # a read not yet started never runs; a started one ends alone
            self._fail("timeout", "took longer than its budget")
            raise StorageUnavailable("The card history could not be read in time.") from None
        except Exception as exc:  # any failure: the cards are shown unsnoozed
            self._fail("error", f"{type(exc).__name__}: {_safe_reason(exc)}")
            raise StorageUnavailable("The card history could not be read.") from exc

    def _fail(self, reason: str, detail: str) -> None:
        metrics.record_snooze_read_failure(reason)
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
