"""Moving a fixture's FHIR dates to another day, keeping what each date means.

A fixture is a complete CDS Hooks request written as if evaluated at its
``evaluatedAt`` instant. Whoever fires it (the tests, the command line) shifts every FHIR
date in the request by ``now - evaluatedAt`` so that "90 days on omalizumab" stays 90
days whatever the calendar says.

Shifting keeps the meaning the rules give a value (docs/clinical-rules.md §6.2):
- a full dateTime/instant moves by the exact delta and keeps its precision and offset;
- a partial value (``2026``, ``2026-05``, ``2026-05-14``) in a dateTime-typed element means
  the start of that period in UTC, so it becomes a full UTC dateTime moved by the exact
  delta (otherwise a delta of 12 h would silently turn into 0 or 24 h);
- a ``date``-typed element (``birthDate`` ...) moves by whole calendar days and keeps its
  precision, so an age stays the same on the day the fixture is fired.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

DATE_ELEMENTS = frozenset(
    {
        "birthDate",
        "expirationDate",
        "lockedDate",
        "startDate",
        "dueDate",
    }
)

# Elements known to hold a dateTime/instant: only under these is a bare year ("2025")
# or year-month read as a date (a bare "2025" elsewhere may well be a code).
DATETIME_ELEMENTS = frozenset(
    {
        "onsetDateTime",
        "abatementDateTime",
        "recordedDate",
        "effectiveDateTime",
        "effectiveInstant",
        "issued",
        "authoredOn",
        "dateAsserted",
        "start",
        "end",
        "lastUpdated",
        "timestamp",
        "occurrenceDateTime",
        "valueDateTime",
        "deceasedDateTime",
        "date",
        "dateWritten",
        "whenHandedOver",
        "whenPrepared",
        "recorded",
        "created",
        "authored",
    }
)

_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})"
    r"(?:-(?P<month>0[1-9]|1[0-2])"
    r"(?:-(?P<day>0[1-9]|[12]\d|3[01])"
    r"(?:T(?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d)(?::(?P<second>[0-5]\d|60)"
    r"(?P<fraction>\.\d+)?)?"
    r"(?P<tz>Z|[+-](?:0\d|1[0-4]):[0-5]\d)?)?)?)?"
)
# Outside the known elements only unambiguous shapes count as dates.
_UNAMBIGUOUS_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T.*)?")


def shift_dates(request: Any, evaluated_at: datetime, now: datetime) -> Any:
    """A deep copy of ``request`` with every FHIR date moved by ``now - evaluated_at``."""
    if evaluated_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("evaluated_at and now must be timezone-aware")
    delta = now - evaluated_at
    whole_days = (now.astimezone(UTC).date() - evaluated_at.astimezone(UTC).date()).days
    return _shift(copy.deepcopy(request), None, delta, whole_days)


def _shift(value: Any, key: str | None, delta: timedelta, whole_days: int) -> Any:
    if isinstance(value, dict):
        for child_key, child in value.items():
            value[child_key] = _shift(child, child_key, delta, whole_days)
        return value
    if isinstance(value, list):
        return [_shift(item, key, delta, whole_days) for item in value]
    if isinstance(value, str) and _looks_like_date(value, key):
        return _shift_text(value, key, delta, whole_days)
    return value


def _looks_like_date(text: str, key: str | None) -> bool:
    if key in DATE_ELEMENTS or key in DATETIME_ELEMENTS:
        return _DATETIME_RE.fullmatch(text) is not None
    return _UNAMBIGUOUS_RE.fullmatch(text) is not None and _DATETIME_RE.fullmatch(text) is not None


def parse_datetime(text: str) -> tuple[datetime, str] | None:
    """(start of the value in UTC or its own offset, precision) or None."""
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    year, month, day = int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1)
    try:
        if parts["hour"] is None:
            precision = "day" if parts["day"] else ("month" if parts["month"] else "year")
            return datetime(year, month, day, tzinfo=UTC), precision
        tz = _zone(parts["tz"])
        fraction = parts["fraction"] or ""
        microsecond = int((fraction[1:] + "000000")[:6]) if fraction else 0
        second = min(int(parts["second"] or 0), 59)  # a leap second reads as :59
        moment = datetime(
            year, month, day, int(parts["hour"]), int(parts["minute"]), second, microsecond,
            tzinfo=tz,
        )
    except ValueError:
        # An impossible date ("2026-02-30"): not a date, so it is never moved. Fixtures
        # use such values on purpose (an unreadable date, docs/clinical-rules.md §2).
        return None
    return moment, "full"


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _shift_text(text: str, key: str | None, delta: timedelta, whole_days: int) -> str:
    parsed = parse_datetime(text)
    if parsed is None:
        return text
    moment, precision = parsed
    if key in DATE_ELEMENTS:
        if precision == "full":  # not a valid date, but keep it a date-like value
            precision = "day"
        shifted_day = moment.date() + timedelta(days=whole_days)
        return _format_date(shifted_day, precision)
    if precision != "full":
        return _format_instant(moment + delta, fraction_digits=0, keep_zone=None)
    match = _DATETIME_RE.fullmatch(text)
    assert match is not None
    fraction = match.group("fraction") or ""
    return _format_instant(
        moment + delta, fraction_digits=len(fraction) - 1 if fraction else 0,
        keep_zone=match.group("tz"), has_seconds=match.group("second") is not None,
    )


def _format_date(day: date, precision: str) -> str:
    if precision == "year":
        return f"{day.year:04d}"
    if precision == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def _format_instant(
    moment: datetime,
    *,
    fraction_digits: int,
    keep_zone: str | None,
    has_seconds: bool = True,
) -> str:
    if keep_zone is None or keep_zone == "Z":
        moment = moment.astimezone(UTC)
        zone = "Z"
    else:
        zone = keep_zone
    text = moment.strftime("%Y-%m-%dT%H:%M")
    if has_seconds or moment.second or moment.microsecond:
        text += moment.strftime(":%S")
        digits = f"{moment.microsecond:06d}"
        # Keep the value's own precision, but never round the shift away: a delta with
        # microseconds must stay exact, or a boundary ("exactly 180 days") would move.
        needed = len(digits.rstrip("0"))
        width = max(fraction_digits, needed)
        if width:
            text += "." + (digits + "0" * width)[:width]
    return text + zone
