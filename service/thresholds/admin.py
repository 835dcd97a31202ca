"""What administrators do with thresholds, without Flask: read, check, change, export.

The HTTP API (service/web/admin_thresholds.py), the page and the command line all go
through here. The database's active version wins over the file unless
``MCAS_THRESHOLDS_SOURCE=file``; see docs/administration.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import Engine

# The largest version number a database can hold (larger ones name no version).
from service.storage.thresholds_store import (
    MAX_VERSION_NUMBER as MAX_VERSION_NUMBER,
)

# NoChange and StaleVersion are refusals of this module's API too (the web maps them to 409).
from service.storage.thresholds_store import (
    NoChange as NoChange,
)
from service.storage.thresholds_store import (
    StaleVersion as StaleVersion,
)
from service.storage.thresholds_store import (
    StoredVersion,
    active_version,
    history,
    load_version,
    record_change,
)
from service.thresholds.fields import (
    FieldInfo,
    diff,
    leaves,
    thresholds_to_mapping,
    validation_errors,
)
from service.thresholds.model import Thresholds, ThresholdsError
from service.thresholds.schema import thresholds_from_mapping
from service.thresholds.source import ActiveThresholds


class ProposalInvalid(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class FileMode(RuntimeError):
    """MCAS_THRESHOLDS_SOURCE=file: the file is the only source; no changes here."""


@dataclass(frozen=True)
class Active:
    thresholds: Thresholds
    stored: StoredVersion | None  # None: the file is in force

    @property
    def source(self) -> str:
        return "file" if self.stored is None else "database"


def read_active(provider: ActiveThresholds, engine: Engine | None) -> Active:
    """The active version read from the database now (not the hook path's cached copy)."""
    if not provider.uses_database or engine is None:
        return Active(provider.file_thresholds, None)
    stored = active_version(engine)
    if stored is None:
        return Active(provider.file_thresholds, None)
    return Active(stored.thresholds(), stored)


def checked(values: Any) -> Thresholds:
    """The proposal as thresholds, or ProposalInvalid naming each field and rule."""
    errors = validation_errors(values)
    if errors:
        raise ProposalInvalid(errors)
    try:
        return thresholds_from_mapping(values, origin="proposal")
    except ThresholdsError as exc:  # the schema passed, so this should not happen
        raise ProposalInvalid([{"field": "values", "message": str(exc)}]) from None


def changes_from(active: Active, values: Any) -> list[dict[str, Any]]:
    return diff(thresholds_to_mapping(active.thresholds), values)


def describe(active: Active, fields: list[FieldInfo], provider: ActiveThresholds) -> dict[str, Any]:
    values = thresholds_to_mapping(active.thresholds)
    flat = leaves(values)
    body: dict[str, Any] = {
        "version": active.thresholds.version,
        "content_hash": active.thresholds.version.split(".", 1)[-1],
        "source": active.source,
        "mode": provider.source,
        "file_version": provider.file_thresholds.version,
        "refresh_seconds": provider.refresh_seconds,
        "values": values,
        "fields": [
            {
                "field": info.path,
                "label": info.label,
                "unit": info.unit,
                "meaning": info.meaning,
                "kind": info.kind,
                "value": flat.get(info.path),
            }
            for info in fields
        ],
    }
    if active.stored is not None:
        body["stored"] = active.stored.summary()
    return body


def apply(
    provider: ActiveThresholds,
    engine: Engine,
    *,
    values: Any,
    base_version: str,
    author: str,
    reason: str,
    now: datetime,
) -> StoredVersion:
    if not provider.uses_database:
        raise FileMode()
    made = record_change(
        engine,
        proposal=checked(values),
        base_version=base_version,
        file_thresholds=provider.file_thresholds,
        author=author,
        reason=reason,
        now=now,
    )
    provider.invalidate()
    return made


def rollback(
    provider: ActiveThresholds,
    engine: Engine,
    *,
    to_version: int,
    base_version: str,
    author: str,
    reason: str,
    now: datetime,
) -> StoredVersion:
    """A new version holding the values of ``to_version`` (history is never rewritten)."""
    if not provider.uses_database:
        raise FileMode()
    with engine.connect() as connection:
        target = load_version(connection, to_version)
    if target is None:
        raise LookupError(f"There is no thresholds version {to_version}.")
    made = record_change(
        engine,
        proposal=target.thresholds(),
        base_version=base_version,
        file_thresholds=provider.file_thresholds,
        author=author,
        reason=reason,
        now=now,
        action="rollback",
        rollback_of=to_version,
    )
    provider.invalidate()
    return made


def history_of(provider: ActiveThresholds, engine: Engine | None) -> dict[str, Any]:
    if not provider.uses_database or engine is None:
        return {"active": None, "versions": []}
    versions, active_number = history(engine)
    return {
        "active": active_number,
        "versions": [{**v.summary(), "active": v.number == active_number} for v in versions],
    }


def version_detail(engine: Engine | None, number: int) -> dict[str, Any] | None:
    """Stored version ``number`` with its values, or None (none stored, or file mode)."""
    if engine is None or not 1 <= number <= MAX_VERSION_NUMBER:
        return None
    with engine.connect() as connection:
        found = load_version(connection, number)
    return None if found is None else {**found.summary(), "values": found.values}


def export_yaml(active: Active) -> str:
    """The active values as a thresholds file: load it with MCAS_THRESHOLDS_FILE."""
    header = [
        "# mcas-cds thresholds exported from the administrator's active version.",
        f"# version: {active.thresholds.version}",
    ]
    if active.stored is not None:
        created = active.stored.created_at.isoformat().replace("+00:00", "Z")
        header.append(f"# applied {created} by {_one_line(active.stored.author)}")
        header.append(f"# reason: {_one_line(active.stored.reason)}")
    else:
        header.append("# source: the thresholds file (no stored version is active)")
    header.append("# Meaning and unit of each field: cards/thresholds_meta.yaml.")
    body = yaml.safe_dump(
        thresholds_to_mapping(active.thresholds),
        sort_keys=False,
        default_flow_style=None,
        allow_unicode=True,
    )
    return "\n".join(header) + "\n\n" + body


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
