"""The `jti` replay cache: a token is accepted once within its lifetime.

A `jti` is *claimed* when its token verifies, *confirmed* when the request was answered
with success and *released* otherwise, so an EHR that retries after a 503 with the same
token is served, while a second request racing the first is refused. A claim whose
request never finished (a killed worker) lapses after ``pending_seconds``.

Where it lives (docs/security.md, "Replay protection"):

- with a PostgreSQL database, in that database, shared by every replica
  (service/storage/replay_jti.py, table ``replay_jti``), wrapped here in
  ``FailoverReplayCache``: while the database is unreachable, this host's own cache
  stands in (each such claim counted), or, with ``MCAS_REPLAY_CACHE_ON_OUTAGE=refuse``,
  the request is answered 503;
- otherwise in one SQLite file in WAL mode that every worker process on the host
  (gunicorn) shares: ``SqliteReplayCache``; or per process: ``MemoryReplayCache``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from service.errors import StorageUnavailable

log = logging.getLogger(__name__)


class ReplayCache(Protocol):
    def claim(self, key: str, expires_at: float, now: float) -> bool:
        """True if ``key`` was free (and is now held); False if it was seen."""

    def confirm(self, key: str) -> None: ...

    def release(self, key: str) -> None: ...


class MemoryReplayCache:
    """One process only: for a single worker or tests."""

    def __init__(self, pending_seconds: float = 120.0) -> None:
        self._pending_seconds = pending_seconds
        # key -> (expires_at, pending_until or None)
        self._entries: dict[str, tuple[float, float | None]] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, expires_at: float, now: float) -> bool:
        with self._lock:
            self._entries = {
                k: (exp, pending)
                for k, (exp, pending) in self._entries.items()
                if exp >= now and (pending is None or pending >= now)
            }
            if key in self._entries:
                return False
            self._entries[key] = (expires_at, now + self._pending_seconds)
            return True

    def confirm(self, key: str) -> None:
        with self._lock:
            if key in self._entries:
                self._entries[key] = (self._entries[key][0], None)

    def release(self, key: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] is not None:
                del self._entries[key]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_jti (
    key TEXT PRIMARY KEY,
    expires_at REAL NOT NULL,
    pending_until REAL
)
"""


class SqliteReplayCache:
    """Shared by every process on the host through one SQLite file (WAL mode)."""

    def __init__(
        self, path: Path, *, pending_seconds: float = 120.0, sweep_every: float = 60.0
    ) -> None:
        self._path = path
        self._pending_seconds = pending_seconds
        self._sweep_every = sweep_every
        self._last_sweep = float("-inf")
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        # autocommit off by hand (isolation_level=None) so BEGIN IMMEDIATE is ours.
        return sqlite3.connect(self._path, timeout=5.0, isolation_level=None)

    def _db(self) -> sqlite3.Connection:
        # One connection per thread: sqlite3 connections are not shared across threads.
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            db.execute("PRAGMA busy_timeout=5000")
            # WAL + NORMAL: no fsync per request; a power cut may forget the last few
            # jtis, which only reopens replays of tokens that expire within minutes.
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def claim(self, key: str, expires_at: float, now: float) -> bool:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            if now - self._last_sweep >= self._sweep_every:
                db.execute(
                    "DELETE FROM seen_jti WHERE expires_at < ? OR pending_until < ?", (now, now)
                )
                self._last_sweep = now
            else:
                db.execute(
                    "DELETE FROM seen_jti WHERE key = ? AND (expires_at < ? OR pending_until < ?)",
                    (key, now, now),
                )
            inserted = db.execute(
                "INSERT OR IGNORE INTO seen_jti (key, expires_at, pending_until) VALUES (?, ?, ?)",
                (key, expires_at, now + self._pending_seconds),
            ).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return inserted == 1

    def confirm(self, key: str) -> None:
        self._db().execute("UPDATE seen_jti SET pending_until = NULL WHERE key = ?", (key,))

    def release(self, key: str) -> None:
        self._db().execute(
            "DELETE FROM seen_jti WHERE key = ? AND pending_until IS NOT NULL", (key,)
        )

    def count(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM seen_jti").fetchone()[0])


ON_OUTAGE_CHOICES = ("local", "refuse")


class FailoverReplayCache:
    """The shared cache; while it is unavailable, this host's cache or a 503.

    ``on_outage="local"`` (the default): a claim the shared cache cannot take is made in
    ``local`` instead, so a replay to this host is still refused, a replay to another
    replica is not; ``report("local")`` counts each. ``"refuse"``: the claim raises
    ``StorageUnavailable`` (503 + Retry-After, the EHR retries) and ``report("refused")``.
    After a failure the shared cache is left alone for ``backoff_seconds``, so an outage
    costs one connection timeout, not one per request.
    """

    def __init__(
        self,
        shared: ReplayCache,
        local: ReplayCache,
        *,
        on_outage: str = "local",
        backoff_seconds: float = 5.0,
        report: Callable[[str], None] = lambda outcome: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if on_outage not in ON_OUTAGE_CHOICES:
            raise ValueError(f"on_outage must be one of {ON_OUTAGE_CHOICES}, not {on_outage!r}")
        self.shared = shared
        self.local = local
        self._on_outage = on_outage
        self._backoff = backoff_seconds
        self._report = report
        self._monotonic = monotonic
        self._paused_until = float("-inf")
        # Keys claimed in the local cache, so confirm/release go to the same place.
        self._local_keys: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, key: str, expires_at: float, now: float) -> bool:
        if self._monotonic() >= self._paused_until:
            try:
                return self.shared.claim(key, expires_at, now)
            except StorageUnavailable as exc:
                self._paused_until = self._monotonic() + self._backoff
                log.warning(
                    "shared replay cache unavailable: %s",
                    "refusing tokens (503)" if self._on_outage == "refuse"
                    else "checking tokens against this host's cache only",
                    extra={"error_type": _cause_name(exc)},
                )
        if self._on_outage == "refuse":
            self._report("refused")
            raise StorageUnavailable(
                "The token replay check is unavailable just now; retry later."
            )
        self._report("local")
        won = self.local.claim(key, expires_at, now)
        if won:
            with self._lock:
                self._local_keys.add(key)
        return won

    def confirm(self, key: str) -> None:
        self._settle(key, confirm=True)

    def release(self, key: str) -> None:
        self._settle(key, confirm=False)

    def _settle(self, key: str, *, confirm: bool) -> None:
        with self._lock:
            local = key in self._local_keys
            self._local_keys.discard(key)
        cache = self.local if local else self.shared
        try:
            cache.confirm(key) if confirm else cache.release(key)
        except StorageUnavailable as exc:
            # A confirm lost: the claim lapses after its pending time and the token could
            # serve once more within its (at most minutes-long) life. A release lost:
            # the EHR's retry with this token is refused until then. Both are logged.
            log.warning(
                "shared replay cache unavailable: could not %s a claim",
                "confirm" if confirm else "release",
                extra={"error_type": _cause_name(exc)},
            )


def _cause_name(exc: BaseException) -> str:
    cause = exc.__cause__
    return type(getattr(cause, "orig", None) or cause or exc).__name__
