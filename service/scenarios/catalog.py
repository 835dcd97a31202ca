"""Where the fixture scenarios live, and how one becomes a request fired today.

A fixture is a JSON file in ``fhir_fixtures/`` (see docs/integration-guide.md). Reading
one and moving its dates to today belong to ``service.scenarios.fixtures`` (shared with the tests);
this module only finds fixtures by name and prepares a fresh request from one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURES_ENV = "MCAS_FIXTURES_DIR"


class FixtureError(Exception):
    """A fixture cannot be found or read; the message is meant for the user."""


def default_fixtures_dir() -> Path:
    """The fixtures shipped with the package, else the repository's ``fhir_fixtures/``."""
    configured = os.environ.get(FIXTURES_ENV)
    if configured:
        return Path(configured)
    package = Path(__file__).resolve().parent.parent
    installed = package / "fhir_fixtures"
    return installed if installed.is_dir() else package.parent / "fhir_fixtures"


@dataclass(frozen=True)
class Fixture:
    name: str
    path: Path
    data: Mapping[str, Any]

    @property
    def description(self) -> str:
        return str(self.data.get("description", ""))

    @property
    def expected_topics(self) -> list[str]:
        return list(self.data.get("expectedTopics") or [])

    @property
    def absent_topics(self) -> list[str]:
        return list(self.data.get("absentTopics") or [])

    @property
    def expected_status(self) -> int:
        return int(self.data.get("expectedStatus") or 200)

    @property
    def request(self) -> Mapping[str, Any]:
        return self.data["request"]


def _as_mapping(loaded: Any) -> Mapping[str, Any]:
    """``load_fixture`` may give the raw mapping or an object carrying it."""
    if isinstance(loaded, Mapping):
        return loaded
    for attribute in ("data", "raw"):
        value = getattr(loaded, attribute, None)
        if isinstance(value, Mapping):
            return value
    raise FixtureError(f"unexpected fixture object {type(loaded).__name__}")


def read_fixture(path: Path) -> Fixture:
    from service.scenarios.fixtures import load_fixture

    try:
        loaded = load_fixture(path)
    except FileNotFoundError:
        raise FixtureError(f"{path}: no such file") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise FixtureError(f"{path}: {exc}") from None
    data = _as_mapping(loaded)
    if not isinstance(data.get("request"), Mapping):
        raise FixtureError(f"{path}: no 'request' object")
    return Fixture(name=path.stem, path=path, data=data)


def fixture_paths(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise FixtureError(f"fixtures directory {directory} does not exist")
    return sorted(directory.glob("*.json"))


def all_fixtures(directory: Path) -> list[Fixture]:
    return [read_fixture(path) for path in fixture_paths(directory)]


def find_fixture(name_or_path: str, directory: Path) -> Fixture:
    """A file path if it names a file, else a fixture name (file stem) in ``directory``."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return read_fixture(candidate)
    named = directory / f"{candidate.name.removesuffix('.json')}.json"
    if named.is_file():
        return read_fixture(named)
    known = ", ".join(p.stem for p in fixture_paths(directory)) if directory.is_dir() else ""
    hint = f" Known fixtures: {known}" if known else ""
    raise FixtureError(f"no fixture file or fixture named '{name_or_path}' in {directory}.{hint}")


def parse_instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise FixtureError("evaluatedAt must be an ISO 8601 instant")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FixtureError(f"evaluatedAt {value!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise FixtureError(f"evaluatedAt {value!r} has no time zone (use Z for UTC)")
    return parsed


def prepare_request(fixture: Fixture, now: datetime | None = None) -> dict[str, Any]:
    """The fixture's request with every date moved to ``now`` and a fresh hookInstance."""
    from service.scenarios.fixtures import shift_dates

    now = now or datetime.now(UTC)
    evaluated_at = parse_instant(fixture.data.get("evaluatedAt"))
    shifted = shift_dates(json.loads(json.dumps(fixture.request)), evaluated_at, now)
    shifted["hookInstance"] = str(uuid.uuid4())
    return shifted
