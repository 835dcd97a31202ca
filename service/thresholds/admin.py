"""What administrators do with thresholds, without Flask: read, check, change, export.

The HTTP API (service/web/admin_thresholds.py), the page and the command line all go
through here. The database's active version wins over the file unless
``MCAS_THRESHOLDS_SOURCE=file``; see docs/administration.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import Engine

# The largest version number a database can hold (larger ones name no version).
from service.storage.thresholds_store import (
    MAX_VERSION_NUMBER as MAX_VERSION_NUMBER,
)
from service.storage.thresholds_store import (
    InForce,
    StoredVersion,
    history,
    in_force,
    load_version,
    record_change,
    resolve,
)

# NoChange and StaleVersion are refusals of this module's API too (the web maps them to 409).
from service.storage.thresholds_store import (
    NoChange as NoChange,
)
from service.storage.thresholds_store import (
    StaleVersion as StaleVersion,
)
from service.thresholds.fields import (
    FieldInfo,
    diff,
    leaves,
    thresholds_to_mapping,
    validation_errors,
    warnings,
)
from service.thresholds.model import Thresholds, ThresholdsError
from service.thresholds.schema import thresholds_from_mapping
from service.thresholds.source import ActiveThresholds


class ProposalInvalid(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class ConfirmationNeeded(ValueError):
    """A change switches off a warning card without an explicit confirmation, or a
    rollback was not previewed: refused by the API, whatever the page does (issue 16)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class FileMode(RuntimeError):
    """MCAS_THRESHOLDS_SOURCE=file: the file is the only source; no changes here."""


# What is in force: ``thresholds``, ``stored`` (None: the file), ``upgrade`` and
# ``unusable`` (service/storage/thresholds_store.py).
Active = InForce


def read_active(provider: ActiveThresholds, engine: Engine | None) -> Active:
    """The active version read from the database now (not the hook path's cached copy)."""
    if not provider.uses_database or engine is None:
        return Active(provider.file_thresholds, None)
    with engine.connect() as connection:
        return in_force(connection, provider.file_thresholds, provider.ranges)


def checked(provider: ActiveThresholds, values: Any) -> Thresholds:
    """The proposal as thresholds, or ProposalInvalid naming each field and rule."""
    errors = validation_errors(values, provider.ranges)
    if errors:
        raise ProposalInvalid(errors)
    try:
        return thresholds_from_mapping(values, ranges=provider.ranges, origin="proposal")
    except ThresholdsError as exc:  # the schema passed, so this should not happen
        raise ProposalInvalid([{"field": "values", "message": str(exc)}]) from None


def warnings_of(provider: ActiveThresholds, values: Any) -> list[dict[str, str]]:
    """The unusual values of a valid proposal, ``{field, message}`` each (6.14)."""
    return warnings(values, provider.ranges, provider.file_thresholds)


def changes_from(active: Active, values: Any) -> list[dict[str, Any]]:
    return diff(thresholds_to_mapping(active.thresholds), values)


def switched_off(before: Any, after: Any, warning_topics: frozenset[str]) -> list[str]:
    """Warning cards on in ``before`` and off in ``after`` (values in the file's shape)."""
    old = before.get("cards_enabled") if isinstance(before, dict) else None
    new = after.get("cards_enabled") if isinstance(after, dict) else None
    old, new = (old if isinstance(old, dict) else {}), (new if isinstance(new, dict) else {})
    return sorted(t for t in warning_topics
                  if old.get(t, True) is not False and new.get(t, True) is False)


def check_switch_off(
    active: Active, values: Any, warning_topics: frozenset[str], confirmed: frozenset[str]
) -> frozenset[str]:
    """The confirmed warning cards this change switches off, or ConfirmationNeeded."""
    needed = switched_off(thresholds_to_mapping(active.thresholds), values, warning_topics)
    missing = [t for t in needed if t not in confirmed]
    if missing:
        raise ConfirmationNeeded([
            {"field": f"cards_enabled.{t}",
             "message": f"'{t}' is a warning card: switching it off needs an explicit "
                        "confirmation (list it in confirm_switch_off)."}
            for t in missing
        ])
    return frozenset(needed)


def _stale_unless(active: Active, base_version: str) -> None:
    if base_version != active.thresholds.version:
        raise StaleVersion(base_version, active.thresholds.version)


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
        "fields": [{**info.describe(), "value": flat.get(info.path)} for info in fields],
        # Unusual values in force (e.g. a file set outside the warn bounds).
        "warnings": warnings_of(provider, values),
    }
    if active.stored is not None:
        summary = _summary(active.stored, provider)
        if active.unusable is None:
            body["stored"] = summary
        else:
            # The active stored version fails this release's validation: the file is used.
            body["stored_unusable"] = {**summary, "problem": active.unusable}
    return body


def _summary(version: StoredVersion, provider: ActiveThresholds) -> dict[str, Any]:
    """A stored version as the API shows it, with its upgrade note (null: none needed)."""
    upgrade = version.upgrade(provider.file_thresholds)
    return {**version.summary(), "upgrade": upgrade.as_dict() if upgrade.changed else None}


def apply(
    provider: ActiveThresholds,
    engine: Engine,
    *,
    values: Any,
    base_version: str,
    author: str,
    reason: str,
    now: datetime,
    warning_topics: frozenset[str] = frozenset(),
    confirmed_off: frozenset[str] = frozenset(),
) -> StoredVersion:
    """``warning_topics``: cards whose indicator is warning; switching one off needs its
    topic in ``confirmed_off`` (ConfirmationNeeded otherwise), recorded in the version."""
    if not provider.uses_database:
        raise FileMode()
    proposal = checked(provider, values)
    active = read_active(provider, engine)
    _stale_unless(active, base_version)
    confirmed = check_switch_off(active, values, warning_topics, confirmed_off)
    made = record_change(
        engine,
        proposal=proposal,
        base_version=base_version,
        file_thresholds=provider.file_thresholds,
        ranges=provider.ranges,
        author=author,
        reason=reason,
        now=now,
        confirmed_off=confirmed,
    )
    provider.invalidate()
    return made


def rollback_target(provider: ActiveThresholds, engine: Engine, to_version: int) -> Thresholds:
    """The values a rollback to ``to_version`` would apply (upgraded to this release)."""
    with engine.connect() as connection:
        target = load_version(connection, to_version)
    if target is None:
        raise LookupError(f"There is no thresholds version {to_version}.")
    # An older version is upgraded to this release's fields like the active one; one
    # that fails this release's validation cannot be rolled back to.
    wanted = resolve(target, provider.file_thresholds, provider.ranges)
    if wanted.unusable is not None:
        raise ProposalInvalid(
            [{"field": "to_version", "message": f"{wanted.unusable}. "
              "It is not valid for this release and cannot be rolled back to."}]
        )
    return wanted.thresholds


def content_hash(thresholds: Thresholds) -> str:
    """``sha256:<12 hex>`` of the values, without a stored version's ``vN.`` prefix."""
    return thresholds.version.split(".", 1)[-1]


def rollback(
    provider: ActiveThresholds,
    engine: Engine,
    *,
    to_version: int,
    base_version: str,
    author: str,
    reason: str,
    now: datetime,
    previewed_version: str | None = None,
    warning_topics: frozenset[str] = frozenset(),
    confirmed_off: frozenset[str] = frozenset(),
) -> StoredVersion:
    """A new version holding the values of ``to_version`` (history is never rewritten).

    Like an apply, it must have been previewed: ``previewed_version`` is the content hash
    the rollback preview answered (``proposed_version``), so the values confirmed are the
    values applied; and switching off a warning card needs its confirmation.
    """
    if not provider.uses_database:
        raise FileMode()
    wanted = rollback_target(provider, engine, to_version)
    if previewed_version is None or previewed_version != content_hash(wanted):
        raise ConfirmationNeeded([
            {"field": "previewed_version",
             "message": "Preview the rollback first (POST /admin/api/thresholds/rollback/"
                        "preview) and send the proposed_version it answered."}
        ])
    active = read_active(provider, engine)
    _stale_unless(active, base_version)
    values = thresholds_to_mapping(wanted)
    confirmed = check_switch_off(active, values, warning_topics, confirmed_off)
    made = record_change(
        engine,
        proposal=wanted,
        base_version=base_version,
        file_thresholds=provider.file_thresholds,
        ranges=provider.ranges,
        author=author,
        reason=reason,
        now=now,
        action="rollback",
        rollback_of=to_version,
        confirmed_off=confirmed,
    )
    provider.invalidate()
    return made


def history_of(provider: ActiveThresholds, engine: Engine | None) -> dict[str, Any]:
    if not provider.uses_database or engine is None:
        return {"active": None, "versions": []}
    versions, active_number = history(engine)
    return {
        "active": active_number,
        "versions": [
            {**_summary(v, provider), "active": v.number == active_number} for v in versions
        ],
    }


def version_detail(
    provider: ActiveThresholds, engine: Engine | None, number: int
) -> dict[str, Any] | None:
    """Stored version ``number`` with its values, or None (none stored, or file mode).

    ``values`` are the values as stored; ``values_in_force`` the same upgraded to this
    release's fields (what a rollback to it would apply), or null when it is not valid
    for this release (``problem`` says why).
    """
    if engine is None or not 1 <= number <= MAX_VERSION_NUMBER:
        return None
    with engine.connect() as connection:
        found = load_version(connection, number)
    if found is None:
        return None
    resolved = resolve(found, provider.file_thresholds, provider.ranges)
    return {
        **_summary(found, provider),
        "values": found.values,
        "values_in_force": (
            None if resolved.unusable else thresholds_to_mapping(resolved.thresholds)
        ),
        "problem": resolved.unusable,
    }


def export_yaml(active: Active) -> str:
    """The active values as a thresholds file: load it with MCAS_THRESHOLDS_FILE."""
    header = [
        "# mcas-cds thresholds exported from the administrator's active version.",
        f"# version: {active.thresholds.version}",
    ]
    if active.stored is not None and active.unusable is None:
        created = active.stored.created_at.isoformat().replace("+00:00", "Z")
        header.append(f"# applied {created} by {_one_line(active.stored.author)}")
        header.append(f"# reason: {_one_line(active.stored.reason)}")
    elif active.stored is not None:
        header.append(
            f"# source: the thresholds file (stored version {active.stored.number} is not "
            "valid for this release)"
        )
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
