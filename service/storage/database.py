"""One SQLAlchemy engine per app and process, created on first use, never at import.

The web layer makes one ``Storage`` per app (service/web/storage.py) and hands it, or its
engine, to the stores; nothing here reads Flask's application context.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

log = logging.getLogger(__name__)

SQLITE_FILE = "mcas-cds.sqlite3"


def data_dir(config: Any, instance_path: str) -> Path:
    return Path(config.get("DATA_DIR") or instance_path)


def database_url(config: Any, instance_path: str) -> URL:
    raw = config.get("DATABASE_URL")
    if not raw:
        return make_url("sqlite:///" + str(data_dir(config, instance_path) / SQLITE_FILE))
    url = make_url(raw)
    # Operators write the URL libpq documents; we drive it with psycopg 3.
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url


def build_engine(url: URL, timeout: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeout})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, round(timeout))
    # pre_ping replaces connections a database restart has broken, so a brief outage
    # costs the requests made during it and nothing after.
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (the report) run beside the writers (hooks, feedback);
        # synchronous=FULL makes a commit survive power loss, not only a process crash.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


class Storage:
    """The app's database: URL from settings, engine and schema check on first use."""

    def __init__(self, config: Mapping[str, Any], instance_path: str) -> None:
        self.url = database_url(config, instance_path)
        self.data_dir = data_dir(config, instance_path)
        self.timeout = float(config.get("DB_TIMEOUT_SECONDS", 5.0))
        self.auto_migrate = _auto_migrate(str(config.get("DB_AUTO_MIGRATE", "auto")), self.url)
        # Card recording (MCAS_RECORD_CARDS) and the patient-hash salt (None: generated
        # once in the data folder, see patient_hash.generated_salt).
        self.record_cards = bool(config.get("RECORD_CARDS", True))
        configured_salt = config.get("PATIENT_HASH_SALT")
        self._salt: bytes | None = configured_salt.encode("utf-8") if configured_salt else None
        # While monotonic() is below this, card recording is skipped (and counted as
        # failed): during an outage the hook must not wait a timeout on every call.
        self.recording_paused_until = 0.0
        self._engine: Engine | None = None
        self._read_engine: tuple[int, Engine] | None = None
        self._pid: int | None = None
        self._migrated = False
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def engine(self) -> Engine:
        """The engine, the schema brought up to date first when auto-migration applies."""
        # A forked worker (gunicorn --preload) must not reuse its parent's connections.
        if self._engine is not None and self._pid == os.getpid() and self._migrated:
            return self._engine
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                if self._engine is not None:
                    self._engine.dispose(close=False)
                self._engine = build_engine(self.url, self.timeout)
                self._pid = os.getpid()
            if not self._migrated:
                if self.auto_migrate:
                    from service.storage.migrate import upgrade

                    upgrade(self._engine)
                self._migrated = True
            return self._engine

    def read_engine(self, statement_timeout: float) -> Engine:
        """The engine for the hook's snooze read (service/storage/history.py).

        PostgreSQL: a second small pool whose connections run in autocommit with
        ``statement_timeout`` set once when they open and no pre-ping, so a read is one
        round trip (a connection a restart broke costs one failed read, counted, and is
        replaced). SQLite: the engine (its reads never wait for writers).
        """
        engine = self.engine()  # migrated first, as for every use
        if self.backend != "postgresql":
            return engine
        timeout_ms = max(1, int(statement_timeout * 1000))
        with self._lock:
            if self._read_engine is None or self._read_engine[0] != os.getpid():
                read = create_engine(
                    self.url,
                    isolation_level="AUTOCOMMIT",
                    pool_size=2,
                    max_overflow=4,
                    connect_args={
                        "connect_timeout": max(1, round(self.timeout)),
                        "options": f"-c statement_timeout={timeout_ms}",
                    },
                )
                self._read_engine = (os.getpid(), read)
            return self._read_engine[1]

    def bare_engine(self) -> Engine:
        """The engine without the automatic migration (for the migration commands)."""
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                self._engine = build_engine(self.url, self.timeout)
                self._pid = os.getpid()
                self._migrated = False
            return self._engine

    def salt(self) -> bytes:
        """The secret that patient ids are hashed with (docs/storage.md)."""
        if self._salt is None:
            from service.storage.patient_hash import generated_salt

            self._salt = generated_salt(self.data_dir)
        return self._salt

    def ping(self) -> None:
        """Readiness: one round trip to the database (raises when it cannot be reached)."""
        with self.bare_engine().connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            if self._read_engine is not None:
                self._read_engine[1].dispose()
            self._engine = None
            self._read_engine = None
            self._migrated = False


def _auto_migrate(mode: str, url: URL) -> bool:
    mode = mode.strip().lower()
    if mode == "always":
        return True
    if mode == "never":
        return False
    if mode != "auto":
        raise ValueError(f"MCAS_DB_AUTO_MIGRATE must be auto, always or never, not {mode!r}")
    return url.get_backend_name() == "sqlite"
