"""Versions of the administrator thresholds in the database, and the active pointer.

Every change writes a new, never-modified row of ``thresholds_versions`` (full validated
values, author, reason, time, per-field diff against its parent) and moves the single
``thresholds_active`` row to it, in one transaction. Optimistic concurrency: a change
names the version it edits; when another administrator got there first the pointer no
longer holds that version and the change is refused (``StaleVersion``, HTTP 409).

Version ids as cards state them: ``v<number>.sha256:<12 hex>`` for a stored version,
``sha256:<12 hex>`` for the thresholds file while no stored version is active.

Stored values are never rewritten. A release that adds or removes a threshold reads them
through the upgrade rule (``service.thresholds.model.upgrade_values``): a missing field
takes the thresholds file's value, a field that is no longer a setting is dropped, both
listed in the version's upgrade note. The hash in a stored version's id is that of the
values in force (after the upgrade), so it always says which values made a card. A
stored version that fails this release's validation even after the upgrade (a value
outside a new clinical range) is not used: the thresholds file is, and ``InForce`` says
why (docs/administration.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from service.storage.models import thresholds_active, thresholds_versions
from service.thresholds.fields import diff, thresholds_to_mapping
from service.thresholds.model import (
    FieldRange,
    Thresholds,
    ThresholdsError,
    Upgrade,
    upgrade_values,
)
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

    def upgrade(self, file_thresholds: Thresholds) -> Upgrade:
        """This version's values brought to this release's fields (never stored back)."""
        return upgrade_values(self.values, thresholds_to_mapping(file_thresholds))

    def thresholds(
        self, file_thresholds: Thresholds, ranges: Mapping[str, FieldRange]
    ) -> Thresholds:
        """The upgraded, validated value, stamped ``v<number>.<hash of those values>``.

        Raises ``ThresholdsError`` when the values fail this release's validation.
        """
        loaded = thresholds_from_mapping(
            self.upgrade(file_thresholds).values,
            ranges=ranges,
            origin=f"thresholds version {self.number}",
        )
        return _stamped(loaded, stored_version_id(self.number, loaded.version))

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


@dataclass(frozen=True)
class InForce:
    """What the service uses now, and why."""

    thresholds: Thresholds  # what the hooks use
    stored: StoredVersion | None  # the active stored version; None: none was ever applied
    upgrade: Upgrade | None = None  # how the stored values met this release's fields
    # The active stored version fails this release's validation (the file is used): why.
    unusable: str | None = None

    @property
    def source(self) -> str:
        return "database" if self.stored is not None and self.unusable is None else "file"


def in_force(
    connection: Connection, file_thresholds: Thresholds, ranges: Mapping[str, FieldRange]
) -> InForce:
    """The active stored version upgraded and validated, else the thresholds file."""
    number = active_number(connection)
    if number is None:
        return InForce(file_thresholds, None)
    stored = load_version(connection, number)
    if stored is None:
        raise LookupError(f"active thresholds version {number} is missing")
    return resolve(stored, file_thresholds, ranges)


def resolve(
    stored: StoredVersion, file_thresholds: Thresholds, ranges: Mapping[str, FieldRange]
) -> InForce:
    """``stored`` as the version in force (its upgrade, or why it cannot be used)."""
    upgrade = stored.upgrade(file_thresholds)
    try:
        thresholds = stored.thresholds(file_thresholds, ranges)
    except ThresholdsError as exc:
        return InForce(file_thresholds, stored, upgrade, unusable=str(exc))
    return InForce(thresholds, stored, upgrade)


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
    ranges: Mapping[str, FieldRange],
    author: str,
    reason: str,
    now: datetime,
    action: str = "apply",
    rollback_of: int | None = None,
    confirmed_off: frozenset[str] = frozenset(),
) -> StoredVersion:
    """Store ``proposal`` as a new version and make it active, if ``base_version`` is.

    ``confirmed_off``: warning cards whose switching off the administrator confirmed; their
    ``cards_enabled`` change is recorded with ``"confirmed": true`` (issue 16).
    """
    values = thresholds_to_mapping(proposal)
    content_hash = _content_hash(proposal.version)  # a stored version's id carries "vN."
    try:
        with engine.begin() as connection:
            # The values in force (a stored version upgraded to this release's fields, or
            # the file when it cannot be used) are what the proposal edits and diffs.
            current = in_force(connection, file_thresholds, ranges)
            number = current.stored.number if current.stored is not None else None
            active_id = current.thresholds.version
            active_values = thresholds_to_mapping(current.thresholds)
            if base_version != active_id:
                raise StaleVersion(base_version, active_id)
            if content_hash == _content_hash(active_id) and current.unusable is None:
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
                changes=_confirmed(diff(active_values, values), confirmed_off),
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


def _confirmed(changes: list[dict[str, Any]], topics: frozenset[str]) -> list[dict[str, Any]]:
    return [
        {**c, "confirmed": True}
        if c["field"].startswith("cards_enabled.") and c["field"].split(".", 1)[1] in topics
        and c["new"] is False else c
        for c in changes
    ]


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
