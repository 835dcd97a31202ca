"""The `jti` replay cache: a token is accepted once within its lifetime.

A `jti` is *claimed* when its token verifies, *confirmed* when the request was answered
with success and *released* otherwise, so an EHR that retries after a 503 with the same
token is served, while a second request racing the first is refused. A claim whose
request never finished (a killed worker) lapses after ``pending_seconds``.

The default store is one SQLite file in WAL mode: every worker process on the host
(gunicorn) shares it. It is per host: replicas on several hosts each keep their own, so
a token replayed to another replica within its lifetime (minutes) would pass there. For
several replicas, put the file on storage they share only if it supports SQLite locking
(not NFS), or implement ``ReplayCache`` over the shared database (an INSERT on a primary
key is all it needs), or accept per-replica caches (see docs/security.md).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Protocol


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
