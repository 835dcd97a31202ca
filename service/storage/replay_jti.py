"""The `jti` replay cache in the shared database, so every replica refuses a replay.

The same contract as the caches of service/auth/replay.py (``claim`` / ``confirm`` /
``release``), over the table ``replay_jti`` (migration 0003). A claim is one atomic
statement, never read-then-write::

    INSERT INTO replay_jti ... ON CONFLICT (key_hash) DO UPDATE ...
        WHERE replay_jti.expires_at < :now OR replay_jti.pending_until < :now
        RETURNING key_hash

A new key is inserted; a key whose token has expired, or whose claim lapsed (its request
never finished), is taken over; a key held or used up is left alone and nothing is
returned. Two replicas racing with one token meet at the primary key: the database lets
exactly one of them have the row. Expired rows are swept at most once per
``sweep_every`` seconds per process.

A failure raises ``StorageUnavailable`` (operation ``replay_cache``); what the service
then does is decided by the caller (service/auth/replay.py, ``FailoverReplayCache``).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from sqlalchemy import Connection, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from service.storage.database import Storage
from service.storage.errors import unavailable_as
from service.storage.models import replay_jti

UNAVAILABLE = "The token replay check is unavailable just now; retry later."


def _digest(key: str) -> str:
    # surrogatepass: a jti is the client's text; any code point must hash, none may fail.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class DatabaseReplayCache:
    def __init__(
        self, store: Storage, *, pending_seconds: float = 120.0, sweep_every: float = 60.0
    ) -> None:
        self._store = store
        self._pending_seconds = pending_seconds
        self._sweep_every = sweep_every
        self._last_sweep = float("-inf")
        self._sweep_lock = threading.Lock()

    def claim(self, key: str, expires_at: float, now: float) -> bool:
        row = {
            "key_hash": _digest(key),
            "expires_at": expires_at,
            "pending_until": now + self._pending_seconds,
        }
        with (
            unavailable_as(UNAVAILABLE, operation="replay_cache"),
            self._store.engine().begin() as connection,
        ):
            self._sweep(connection, now)
            return self._insert_or_take_over(connection, row, now)

    def confirm(self, key: str) -> None:
        statement = (
            update(replay_jti)
            .where(replay_jti.c.key_hash == _digest(key))
            .values(pending_until=None)
        )
        with (
            unavailable_as(UNAVAILABLE, operation="replay_cache"),
            self._store.engine().begin() as connection,
        ):
            connection.execute(statement)

    def release(self, key: str) -> None:
        statement = delete(replay_jti).where(
            replay_jti.c.key_hash == _digest(key), replay_jti.c.pending_until.is_not(None)
        )
        with (
            unavailable_as(UNAVAILABLE, operation="replay_cache"),
            self._store.engine().begin() as connection,
        ):
            connection.execute(statement)

    def ping(self) -> None:
        """Readiness: the table answers (raises when the database or the table is missing)."""
        with self._store.engine().connect() as connection:
            connection.execute(replay_jti.select().limit(1)).all()

    def _sweep(self, connection: Connection, now: float) -> None:
        with self._sweep_lock:
            if now - self._last_sweep < self._sweep_every:
                return
            self._last_sweep = now
        connection.execute(
            delete(replay_jti).where(
                or_(replay_jti.c.expires_at < now, replay_jti.c.pending_until < now)
            )
        )

    def _insert_or_take_over(self, connection: Connection, row: dict[str, Any], now: float) -> bool:
        dialect = connection.dialect.name
        insert: Any
        if dialect == "postgresql":
            insert = postgresql.insert(replay_jti)
        elif dialect == "sqlite":
            insert = sqlite.insert(replay_jti)
        else:
            raise NotImplementedError(f"no replay cache for {dialect}")
        statement = (
            insert.values(row)
            .on_conflict_do_update(
                index_elements=[replay_jti.c.key_hash],
                set_={
                    "expires_at": insert.excluded.expires_at,
                    "pending_until": insert.excluded.pending_until,
                },
                where=or_(replay_jti.c.expires_at < now, replay_jti.c.pending_until < now),
            )
            .returning(replay_jti.c.key_hash)
        )
        return connection.execute(statement).first() is not None
