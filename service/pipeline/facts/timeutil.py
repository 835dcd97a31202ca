"""FHIR date and dateTime values as UTC instants (docs/clinical-rules.md §6.2).

A date-only value (or a year, or a year-month) is the start of that day (month, year) in
UTC. Anything that is not a FHIR date gives None: the fact then counts as undated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_fhir_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _PARTIAL.match(text)
    try:
        if match:
            year, month, day = match.groups()
            return datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # FHIR requires a zone with a time; read a missing one as UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def first_time(resource: dict[str, Any], *paths: str) -> datetime | None:
    """The first of the dotted paths that holds a parseable FHIR time."""
    for path in paths:
        node: Any = resource
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        found = parse_fhir_time(node)
        if found is not None:
            return found
    return None
