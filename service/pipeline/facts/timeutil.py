"""FHIR date and dateTime values as UTC instants (docs/clinical-rules.md §2, §6.2).

A date-only value (or a year, or a year-month) is the start of that day (month, year) in
UTC. A value is validated as a FHIR R4 ``dateTime`` (fhir.resources' own type) before it
is read: anything else (a time without a zone, 2026-02-30, a number) is **unreadable**.
Nothing here raises: a value that is valid FHIR but lies at the edge of what a
``datetime`` holds (``0001-01-01T00:00:00+14:00`` is in year 0 in UTC) is clamped to
:data:`EARLIEST` or :data:`LATEST`, so every window the rules compute around it still
has room (the widest is a year).

``read_time`` takes the first of several elements that is *present*: when that one is
unreadable the fact is undated, and the next element is not tried (docs/clinical-rules.md §2).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fhir.resources.R4B.fhirtypes import DateTimeType, DateType
from pydantic import TypeAdapter, ValidationError

# Two years inside datetime's range at each end: windows of up to a year never overflow.
EARLIEST = datetime(3, 1, 1, tzinfo=UTC)
LATEST = datetime(9997, 1, 1, tzinfo=UTC)

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_DATETIME: TypeAdapter[Any] = TypeAdapter(DateTimeType)
_DATE: TypeAdapter[Any] = TypeAdapter(DateType)


@functools.lru_cache(maxsize=8192)
def _fhir_valid(text: str, kind: str) -> bool:
    adapter = _DATE if kind == "date" else _DATETIME
    try:
        adapter.validate_python(text)
    except (ValidationError, ValueError, TypeError, OverflowError):
        return False
    return True


def _clamped(moment: datetime) -> datetime:
    if moment < EARLIEST:
        return EARLIEST
    if moment > LATEST:
        return LATEST
    return moment


@functools.lru_cache(maxsize=8192)
def _parse(text: str) -> datetime | None:
    match = _PARTIAL.match(text)
    try:
        if match:
            year, month, day = match.groups()
            return _clamped(datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC))
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        return None
    if parsed.tzinfo is None:  # not reached for a valid FHIR dateTime; read as UTC
        parsed = parsed.replace(tzinfo=UTC)
    offset = parsed.utcoffset() or timedelta(0)
    naive = parsed.replace(tzinfo=None)
    try:
        return _clamped((naive - offset).replace(tzinfo=UTC))
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00, or 9999-12-31T23:59:59-14:00
        return EARLIEST if offset > timedelta(0) else LATEST


# The common shapes, read without the model (issue 18: the model's validation and the
# general parse were about a twentieth of a typical hook call): a full date, or a
# dateTime to the second with up to six fraction digits and a zone. The ranges are the
# FHIR dateTime pattern's (fhir_core DateTime.pattern): year 0001-9999, month 01-12,
# day 01-31, hour 00-23, minute and second 00-59 (a leap second :60 takes the general
# path), zone Z or +/-00:00 to 13:59 or 14:00; the calendar (2026-02-30) is datetime's.
# Anything else takes the model's path below. tests/pipeline/facts/test_time_fast_path.py
# checks, over generated values near these shapes, that both paths give the same answer.
_FAST = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"(?:T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.(\d{1,6}))?"
    r"(?:(Z)|([+-])(0\d|1[0-3]|14):([0-5]\d)))?"
)
_SLOW: tuple[bool, datetime | None] = (False, None)


def _fast(text: str) -> tuple[bool, datetime | None]:
    """(True, the instant) of a common-shaped value, (True, None) when it is not a valid
    one, or ``_SLOW`` when the general path must decide."""
    match = _FAST.fullmatch(text)
    if match is None:
        return _SLOW
    year, month, day, hour, minute, second, fraction, zulu, sign, zone_h, zone_m = (
        match.groups()
    )
    if year == "0000" or (zone_h == "14" and zone_m != "00"):
        return True, None
    if hour is not None and zulu is None and sign is None:
        return _SLOW  # a time without a zone: the model refuses it; let it say so
    try:
        if hour is None:
            return True, _clamped(datetime(int(year), int(month), int(day), tzinfo=UTC))
        micro = int(fraction.ljust(6, "0")) if fraction else 0
        # built aware at once: datetime.replace(tzinfo=...) costs ten times a constructor
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute),
                          int(second), micro, tzinfo=UTC)
    except ValueError:  # not a day of the calendar
        return True, None
    if zulu is not None:
        return True, _clamped(moment)
    offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
    if sign == "-":
        offset = -offset
    try:
        return True, _clamped(moment - offset)
    except OverflowError:
        return True, EARLIEST if offset > timedelta(0) else LATEST


def forget() -> None:
    """Empty the memos of date readings (no date of a record stays in memory after it)."""
    _fhir_valid.cache_clear()
    _parse.cache_clear()


def parse_fhir_time(value: Any) -> datetime | None:
    """A FHIR dateTime (or date) as a UTC instant; None when it is not a readable one."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text != value:
        return None
    decided, when = _fast(text)
    if decided:
        return when
    if not _fhir_valid(text, "dateTime"):
        return None
    if text.count(":") == 2 and ":60" in text:  # a leap second: read as :59
        text = text.replace(":60", ":59", 1)
    return _parse(text)


def parse_fhir_date(value: Any) -> tuple[date, date] | None:
    """A FHIR ``date`` (YYYY, YYYY-MM or YYYY-MM-DD) as (earliest, latest) days it can mean."""
    if not isinstance(value, str) or not _fhir_valid(value, "date"):
        return None
    match = _PARTIAL.match(value)
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        if day:
            exact = date(int(year), int(month), int(day))
            return exact, exact
        if month:
            first = date(int(year), int(month), 1)
            following = date(int(year) + int(month) // 12, int(month) % 12 + 1, 1)
            return first, following - timedelta(days=1)
        return date(int(year), 1, 1), date(int(year), 12, 31)
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class TimeRead:
    """What one dated element of a resource gave."""

    when: datetime | None = None
    # the element was present but not a readable FHIR date (the fact is then undated)
    unreadable: bool = False
    # which element dated it ("onsetDateTime", "recordedDate", ...); None when undated
    path: str | None = None
    # written without a time ("2026-08-21"): the rules may then read it "on that date"
    date_only: bool = False
    # the calendar date as written, in its own offset ("2026-08-21")
    written_date: str | None = None


def _at(resource: Any, path: str) -> Any:
    node: Any = resource
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def read_time(resource: dict[str, Any], *paths: str) -> TimeRead:
    """The first of the dotted paths that is present, read; unreadable stops the search."""
    for path in paths:
        value = _at(resource, path)
        if value is None:
            continue
        when = parse_fhir_time(value)
        if when is None:
            return TimeRead(unreadable=True)
        text = str(value)
        return TimeRead(when, False, path, "T" not in text, text[:10] if len(text) >= 10 else None)
    return TimeRead()


def first_time(resource: dict[str, Any], *paths: str) -> datetime | None:
    """The instant of ``read_time`` (None when absent or unreadable)."""
    return read_time(resource, *paths).when
