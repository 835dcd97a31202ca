"""Which thresholds the service uses now: the database's active version, else the file.

The hook path calls ``ActiveThresholds()`` on every request. It answers from memory and
re-reads the active pointer at most every ``MCAS_THRESHOLDS_REFRESH_SECONDS`` (a
monotonic-clock comparison per hook; one tiny query when stale; the values themselves
only when the pointer moved), so every replica serves a newly applied version within
that interval. When the database cannot be read, the last good version stays in use.

``MCAS_THRESHOLDS_SOURCE=file`` (GitOps) ignores the database entirely: the file is the
only source and the administrator API refuses changes.

A stored version from an earlier release is read through the upgrade rule
(service/storage/thresholds_store.py); what the upgrade filled in or dropped is logged
once per version and process, by field name only. A stored version this release cannot
use (a value outside a new clinical range) is logged once as an error and the file's
thresholds are served until an administrator applies a valid version.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from service.settings import Setting
from service.thresholds.model import FieldRange, Thresholds

if TYPE_CHECKING:
    from service.storage.thresholds_store import InForce

log = logging.getLogger(__name__)

SOURCES = ("database", "file")


def _parse_source(raw: str) -> str:
    value = raw.strip().lower()
    if value not in SOURCES:
        raise ValueError(f"expected database or file, got {raw!r}")
    return value


def _parse_seconds(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 3600:
        raise ValueError("must be between 0 and 3600 seconds")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "THRESHOLDS_SOURCE",
        "database",
        _parse_source,
        "`database`: the active version stored by administrators wins; while none was "
        "ever applied, the thresholds file is used. `file` (GitOps): only the thresholds "
        "file counts; the administrator API and page can read, preview and export but "
        "refuse to apply or roll back.",
    ),
    Setting(
        "THRESHOLDS_REFRESH_SECONDS",
        5.0,
        _parse_seconds,
        "At most this long after an administrator applies a version, every replica and "
        "worker serves it: each re-reads the active pointer when its copy is older than "
        "this (one small query, never one per hook). 0 reads it on every hook.",
    ),
)


class ActiveThresholds:
    """The thresholds provider of ``ServiceState``: cheap to call, refreshed lazily."""

    def __init__(
        self,
        file_thresholds: Thresholds,
        *,
        ranges: Mapping[str, FieldRange],
        source: str,
        refresh_seconds: float,
        engine: Callable[[], Engine] | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.file_thresholds = file_thresholds
        # The clinical ranges (cards/thresholds_meta.yaml) every stored version and
        # proposal is validated against.
        self.ranges = ranges
        self.source = source
        self.refresh_seconds = refresh_seconds
        self._engine = engine
        self._clock = clock
        self._current = file_thresholds
        self._current_number: int | None = None
        self._next_check = 0.0  # stale from the start: the first hook reads the pointer
        self._failing = False
        self._reported: set[tuple[int, str]] = set()  # (version, note) logged already
        self._lock = threading.Lock()

    @property
    def uses_database(self) -> bool:
        return self.source == "database" and self._engine is not None

    def __call__(self) -> Thresholds:
        if not self.uses_database or self._clock() < self._next_check:
            return self._current
        # One thread refreshes; the others keep serving the copy they have.
        if not self._lock.acquire(blocking=False):
            return self._current
        try:
            self._next_check = self._clock() + self.refresh_seconds
            self._refresh()
        finally:
            self._lock.release()
        return self._current

    def invalidate(self) -> None:
        """Re-read on the next call (this process just changed the active version)."""
        self._next_check = 0.0

    def refresh_now(self) -> Thresholds:
        self.invalidate()
        return self()

    def _refresh(self) -> None:
        from service.storage.thresholds_store import active_number, load_version, resolve

        try:
            assert self._engine is not None  # uses_database checked it
            with self._engine().connect() as connection:
                number = active_number(connection)
                if number == self._current_number:
                    self._recovered()
                    return
                if number is None:
                    fresh, fresh_number = self.file_thresholds, None
                else:
                    stored = load_version(connection, number)
                    if stored is None:
                        raise LookupError(f"active thresholds version {number} is missing")
                    current = resolve(stored, self.file_thresholds, self.ranges)
                    self._report(number, current)
                    fresh, fresh_number = current.thresholds, number
        except Exception as exc:  # any failure: keep serving the last good version
            from service.ops import metrics

            metrics.record_storage_failure("read_thresholds")
            if not self._failing:
                log.warning(
                    "cannot read the active thresholds version; keeping %s: %s",
                    self._current.version,
                    type(getattr(exc, "orig", None) or exc).__name__,
                )
            self._failing = True
            return
        self._recovered()
        if fresh.version != self._current.version:
            log.info("thresholds version now %s", fresh.version)
        self._current, self._current_number = fresh, fresh_number

    def _report(self, number: int, current: InForce) -> None:
        """Log, once per version, its upgrade note or why it cannot be used (no values)."""
        if current.unusable is not None:
            if (number, "unusable") not in self._reported:
                self._reported.add((number, "unusable"))
                log.error(
                    "active thresholds version %d is not valid for this release; serving "
                    "the thresholds file until an administrator applies a valid version: %s",
                    number,
                    current.unusable,
                )
            return
        note = current.upgrade.note() if current.upgrade is not None else None
        if note and (number, "upgrade") not in self._reported:
            self._reported.add((number, "upgrade"))
            log.warning("thresholds version %d: %s", number, note)

    def _recovered(self) -> None:
        if self._failing:
            log.info("active thresholds version readable again")
        self._failing = False
