"""Versions of the administrator thresholds in the database, and the active pointer.

Every change writes a new, never-modified row of ``thresholds_versions`` (full validated
values, author, reason, time, per-field diff against its parent) and moves the single
``thresholds_active`` row to it, in one transaction. Optimistic concurrency: a change
names the version it edits; when another administrator got there first the pointer no
longer holds that version and the change is refused (``StaleVersion``, HTTP 409).

Version ids as cards state them: ``v<number>.sha256:<12 hex>`` for a stored version,
``sha256:<12 hex>`` for the thresholds file while no stored version is active.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from service.storage.models import thresholds_active, thresholds_versions
from service.thresholds.fields import diff, thresholds_to_mapping
from service.thresholds.model import Thresholds
from service.thresholds.schema import thresholds_from_mapping

ACTIVE_ROW = 1
# Version numbers are the rows' ids, an ``Integer`` column: 32 bits on PostgreSQL. A larger
# number names no version; asked of the database it would be an error, not "none".
MAX_VERSION_NUMBER = 2**31 - 1


class StaleVersion(Exception):
    """The change edits a version that is no longer the active one."""

    def __init__(self, expected: str, active: str) -> None:
        super().__init__(f"expected {expected}, active is {active}")
        self.expected = expected
        self.active = active


class NoChange(ValueError):
    """The proposal holds exactly the active values."""


def stored_version_id(number: int, content_hash: str) -> str:
    return f"v{number}.{content_hash}"


@dataclass(frozen=True)
class StoredVersion:
    number: int
    content_hash: str
    values: dict[str, Any]
    changes: list[dict[str, Any]]
    author: str
    reason: str
    created_at: datetime
    parent: int | None
    action: str
    rollback_of: int | None

    @property
    def version_id(self) -> str:
        return stored_version_id(self.number, self.content_hash)

    def thresholds(self) -> Thresholds:
        """The validated value, stamped with this stored version's id."""
        loaded = thresholds_from_mapping(self.values, origin=f"thresholds version {self.number}")
        return _stamped(loaded, self.version_id)

    def summary(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "version": self.version_id,
            "content_hash": self.content_hash,
            "author": self.author,
            "reason": self.reason,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "parent": self.parent,
            "action": self.action,
            "rollback_of": self.rollback_of,
            "changes": self.changes,
        }


def _stamped(thresholds: Thresholds, version: str) -> Thresholds:
    return replace(thresholds, version=version)


def _from_row(row: Any) -> StoredVersion:
    return StoredVersion(
        number=row.id,
        content_hash=row.content_hash,
        values=json.loads(row.values_json),
        changes=json.loads(row.changes_json),
        author=row.author,
        reason=row.reason,
        created_at=row.created_at,
        parent=row.parent_id,
        action=row.action,
        rollback_of=row.rollback_of,
    )


def active_number(connection: Connection) -> int | None:
    """The active version's number (one tiny query), None while the file rules."""
    return connection.execute(
        select(thresholds_active.c.version_id).where(thresholds_active.c.id == ACTIVE_ROW)
    ).scalar_one_or_none()


def load_version(connection: Connection, number: int) -> StoredVersion | None:
    row = connection.execute(
        select(thresholds_versions).where(thresholds_versions.c.id == number)
    ).first()
    return None if row is None else _from_row(row)


def active_version(engine: Engine) -> StoredVersion | None:
    with engine.connect() as connection:
        number = active_number(connection)
        return None if number is None else load_version(connection, number)


def history(engine: Engine) -> tuple[list[StoredVersion], int | None]:
    """Every version, newest first, and the active one's number."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(thresholds_versions).order_by(thresholds_versions.c.id.desc())
        ).all()
        return [_from_row(row) for row in rows], active_number(connection)


def record_change(
    engine: Engine,
    *,
    proposal: Thresholds,
    base_version: str,
    file_thresholds: Thresholds,
    author: str,
    reason: str,
    now: datetime,
    action: str = "apply",
    rollback_of: int | None = None,
) -> StoredVersion:
    """Store ``proposal`` as a new version and make it active, if ``base_version`` is."""
    values = thresholds_to_mapping(proposal)
    content_hash = _content_hash(proposal.version)  # a stored version's id carries "vN."
    try:
        with engine.begin() as connection:
            number = active_number(connection)
            if number is None:
                active_id, active_values = file_thresholds.version, thresholds_to_mapping(
                    file_thresholds
                )
            else:
                current = load_version(connection, number)
                assert current is not None  # the foreign key guarantees it
                active_id, active_values = current.version_id, current.values
            if base_version != active_id:
                raise StaleVersion(base_version, active_id)
            if content_hash == _content_hash(active_id):
                raise NoChange("The proposal holds exactly the active values; nothing to apply.")
            parent = number
            if number is None:
                # The file's values become version 1, so the history starts from what was
                # in force and a rollback to the defaults is one click like any other.
                parent = _insert_version(
                    connection,
                    values=active_values,
                    content_hash=file_thresholds.version,
                    changes=diff(None, active_values),
                    author="thresholds file",
                    reason="Values of the thresholds file in force before the first change.",
                    now=now,
                    parent=None,
                    action="import",
                    rollback_of=None,
                )
            new_number = _insert_version(
                connection,
                values=values,
                content_hash=content_hash,
                changes=diff(active_values, values),
                author=author,
                reason=reason,
                now=now,
                parent=parent,
                action=action,
                rollback_of=rollback_of,
            )
            _move_pointer(connection, number, new_number, now, base_version)
            made = load_version(connection, new_number)
    except IntegrityError:
        # Another administrator's first change won the race for the pointer row.
        raise StaleVersion(base_version, "a newer version") from None
    assert made is not None
    return made


def _content_hash(version_id: str) -> str:
    return version_id.split(".", 1)[1] if version_id.startswith("v") else version_id


def _insert_version(connection: Connection, **row: Any) -> int:
    statement = insert(thresholds_versions).values(
        content_hash=row["content_hash"],
        values_json=json.dumps(row["values"], sort_keys=False),
        changes_json=json.dumps(row["changes"]),
        author=row["author"],
        reason=row["reason"],
        created_at=row["now"],
        parent_id=row["parent"],
        action=row["action"],
        rollback_of=row["rollback_of"],
    )
    result = connection.execute(statement)
    key = result.inserted_primary_key
    assert key is not None  # None only for executemany, never for this one-row INSERT
    return int(key[0])


def _move_pointer(
    connection: Connection, old: int | None, new: int, now: datetime, base_version: str
) -> None:
    if old is None:
        # Racing first changes both insert row 1: the loser's IntegrityError rolls its
        # whole transaction back (caught in record_change).
        connection.execute(
            insert(thresholds_active).values(id=ACTIVE_ROW, version_id=new, updated_at=now)
        )
        return
    moved = connection.execute(
        update(thresholds_active)
        .where(thresholds_active.c.id == ACTIVE_ROW, thresholds_active.c.version_id == old)
        .values(version_id=new, updated_at=now)
    )
    if moved.rowcount != 1:
        raise StaleVersion(base_version, "a newer version")
