"""Scenario fixtures (``fhir_fixtures/*.json``): the one model the tests, the thresholds
preview and the ``mcas-cds`` command share.

A fixture is a complete CDS Hooks request written as if evaluated at its ``evaluatedAt``
instant, with the cards it expects (fhir_fixtures/README.md). Whoever fires it moves its
dates to "now" first (service/scenarios/dates.py), so "90 days on omalizumab" stays 90
days whatever the calendar says.
"""

from __future__ import annotations

import difflib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from service.scenarios.dates import parse_datetime, shift_dates
from service.settings import CORE_SETTINGS, from_environment

FIXTURES_ENV = "MCAS_FIXTURES_DIR"
_PACKAGE = Path(__file__).resolve().parents[1]
# Installed: shipped inside the package; in a checkout: the repository's fhir_fixtures/.
FIXTURES_DIR = (
    _PACKAGE / "fhir_fixtures"
    if (_PACKAGE / "fhir_fixtures").is_dir()
    else _PACKAGE.parent / "fhir_fixtures"
)


# Patients of scenarios written for testing carry this prefix in their id, so a system
# that sees them (a FHIR server they are loaded into, the card history) can tell them from
# real patients. New fixtures (`mcas-cds fixtures new`) use it.
TEST_PATIENT_PREFIX_ENV = "MCAS_TEST_PATIENT_PREFIX"
DEFAULT_TEST_PATIENT_PREFIX = "mcas-test-"


# The CDS service that answers each hook (the ids of the discovery document,
# service/cdshooks/discovery.py; a test keeps the two equal): a fixture is fired at the
# service of its request's hook.
SERVICE_FOR_HOOK: dict[str, str] = {
    "patient-view": "mcas-therapy-tier",
    "order-select": "mcas-order-safety-select",
    "order-sign": "mcas-order-safety-sign",
}


def scenario_patient_prefix() -> str:
    """``MCAS_TEST_PATIENT_PREFIX`` (the service's setting, service/settings.py) when set,
    else ``mcas-test-``; read when called, never at import."""
    setting = next(s for s in CORE_SETTINGS if s.key == "TEST_PATIENT_PREFIX")
    configured = from_environment((setting,), os.environ).get(setting.key)
    return configured or DEFAULT_TEST_PATIENT_PREFIX


def default_fixtures_dir() -> Path:
    """``MCAS_FIXTURES_DIR`` when set, else the bundled fixtures."""
    configured = os.environ.get(FIXTURES_ENV)
    return Path(configured) if configured else FIXTURES_DIR


@dataclass(frozen=True)
class Fixture:
    name: str
    path: Path
    description: str
    evaluated_at: datetime
    expected_topics: frozenset[str]
    absent_topics: frozenset[str]
    expected_status: int
    request: dict[str, Any]
    # "ResourceType/id" of resources the service must leave out and count: a code, status
    # or value the rules need cannot be read (docs/clinical-rules.md §2 "Reading a resource").
    unreadable: frozenset[str] = field(default_factory=frozenset)
    # "ResourceType/id" of resources that fail full R4B validation but are still read: a
    # fault where the rules do not look (no subject), or an unreadable date (undated fact).
    nonconformant: frozenset[str] = field(default_factory=frozenset)
    # Prefetch keys the scenario deliberately leaves unavailable (cards must say so).
    unavailable_keys: frozenset[str] = field(default_factory=frozenset)
    # topic -> groups of RxNorm ingredient codes: the card's suggestions use only codes of
    # these groups and at least one code of each group.
    suggests: dict[str, tuple[frozenset[str], ...]] = field(default_factory=dict)
    # topic -> codes, one of which the card's first suggestion must carry.
    first_suggestion: dict[str, frozenset[str]] = field(default_factory=dict)
    # topic -> regular expressions the card's summary or detail must match (ignoring case).
    mentions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    # expectedTopics in the file's order, for people reading a report.
    listed_topics: tuple[str, ...] = ()
    # Topics that fire but are folded into the ladder card, not cards of their own
    # (docs/clinical-rules.md §4 "Fewer cards"): mediator-evidence, biologic-review.
    folded_topics: frozenset[str] = field(default_factory=frozenset)
    # topic -> the indicator its cards must have, where it differs from the topic's own
    # (order time: celecoxib's order-trigger-drug card is info).
    indicators: dict[str, str] = field(default_factory=dict)

    @property
    def hook(self) -> str:
        return str(self.request.get("hook") or "patient-view")

    @property
    def service_id(self) -> str:
        """The CDS service this fixture is fired at (its request's hook decides)."""
        return SERVICE_FOR_HOOK.get(self.hook, SERVICE_FOR_HOOK["patient-view"])

    @property
    def invalid(self) -> frozenset[str]:
        """Every resource declared to fail full R4B validation (unreadable or nonconformant)."""
        return self.unreadable | self.nonconformant


class FixtureError(ValueError):
    """A fixture file that does not follow the format of fhir_fixtures/README.md."""


def parse_instant(text: Any, *, require_zone: bool = False) -> datetime:
    """A full FHIR dateTime/instant as an aware datetime.

    No zone given: UTC, unless ``require_zone`` (fixture files must say, e.g. ``Z``).
    """
    if not isinstance(text, str):
        raise FixtureError("evaluatedAt must be an ISO 8601 instant")
    parsed = parse_datetime(text)
    if parsed is None or parsed[1] != "full":
        raise FixtureError(f"not a full dateTime with a time: {text!r}")
    if require_zone and not text.endswith("Z") and not _has_offset(text):
        raise FixtureError(f"evaluatedAt {text!r} has no time zone (use Z for UTC)")
    return parsed[0]


def _has_offset(text: str) -> bool:
    time_part = text.partition("T")[2]
    return "+" in time_part or "-" in time_part


def load_fixture(path: Path) -> Fixture:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise FixtureError(f"{path.name}: cannot read JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FixtureError(f"{path.name}: a fixture is a JSON object")
    for key in ("description", "evaluatedAt", "expectedTopics", "request"):
        if key not in data:
            raise FixtureError(f"{path.name}: missing '{key}'")
    topics = data["expectedTopics"]
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise FixtureError(f"{path.name}: expectedTopics must be a list of topic codes")
    if len(set(topics)) != len(topics):
        raise FixtureError(f"{path.name}: expectedTopics lists a topic twice")
    absent = frozenset(data.get("absentTopics", ()))
    if absent & set(topics):
        raise FixtureError(f"{path.name}: a topic is both expected and absent")
    folded = data.get("foldedTopics", [])
    if not isinstance(folded, list) or not set(folded) <= set(FOLDABLE_TOPICS):
        raise FixtureError(
            f"{path.name}: foldedTopics may only list {', '.join(FOLDABLE_TOPICS)}")
    if folded and not set(topics) & set(LADDER_TOPIC_CODES):
        raise FixtureError(f"{path.name}: foldedTopics needs a ladder card to fold into")
    if set(folded) & (set(topics) | absent):
        raise FixtureError(f"{path.name}: a folded topic is also expected or absent")
    for key in ("suggests", "firstSuggestion", "indicators"):
        if not set(data.get(key, {})) <= set(topics):
            raise FixtureError(f"{path.name}: {key} names a topic that is not expected")
    if not set(data.get("mentions", {})) <= set(topics) | set(folded):
        raise FixtureError(f"{path.name}: mentions names a topic that is not expected")
    if not isinstance(data["request"], dict):
        raise FixtureError(f"{path.name}: request must be a JSON object")
    if data["request"].get("hook", "patient-view") not in SERVICE_FOR_HOOK:
        raise FixtureError(
            f"{path.name}: request.hook must be one of {', '.join(SERVICE_FOR_HOOK)}")
    if "malformed" in data:
        raise FixtureError(
            f"{path.name}: 'malformed' was replaced by 'unreadable' (left out and counted) "
            "and 'nonconformant' (invalid R4B, still read): see fhir_fixtures/README.md"
        )
    unreadable = _references(data, "unreadable", path)
    nonconformant = _references(data, "nonconformant", path)
    if unreadable & nonconformant:
        raise FixtureError(f"{path.name}: a resource is both unreadable and nonconformant")
    return Fixture(
        name=path.stem,
        path=path,
        description=data["description"],
        evaluated_at=parse_instant(data["evaluatedAt"]),
        expected_topics=frozenset(topics),
        absent_topics=absent,
        expected_status=int(data.get("expectedStatus", 200)),
        request=data["request"],
        unreadable=unreadable,
        nonconformant=nonconformant,
        unavailable_keys=frozenset(data.get("unavailableKeys", ())),
        suggests={
            topic: tuple(frozenset(group) for group in groups)
            for topic, groups in data.get("suggests", {}).items()
        },
        first_suggestion={
            topic: frozenset(codes) for topic, codes in data.get("firstSuggestion", {}).items()
        },
        mentions={topic: tuple(words) for topic, words in data.get("mentions", {}).items()},
        raw=data,
        listed_topics=tuple(topics),
        indicators=dict(data.get("indicators", {})),
        folded_topics=frozenset(folded),
    )


# The topics a fixture may list under foldedTopics, and the ladder topics they fold into
# (docs/clinical-rules.md §4); written out here: this module imports nothing of ours.
FOLDABLE_TOPICS = ("mediator-evidence", "biologic-review")
LADDER_TOPIC_CODES = ("tier-1", "tier-2", "confirm-before-biologic", "tier-3",
                      "omalizumab-dose", "tier-4", "specialist-referral")


def _references(data: dict[str, Any], key: str, path: Path) -> frozenset[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(ref, str) and ref.count("/") == 1 for ref in value
    ):
        raise FixtureError(f"{path.name}: {key} must be a list of 'ResourceType/id'")
    return frozenset(value)


def fixture_paths(directory: Path = FIXTURES_DIR) -> list[Path]:
    if not directory.is_dir():
        raise FixtureError(f"fixtures directory {directory} does not exist")
    return sorted(directory.glob("*.json"))


def iter_fixtures(directory: Path = FIXTURES_DIR) -> Iterator[Fixture]:
    for path in fixture_paths(directory):
        yield load_fixture(path)


def all_fixtures(directory: Path = FIXTURES_DIR) -> list[Fixture]:
    return list(iter_fixtures(directory))


def find_fixture(name_or_path: str, directory: Path) -> Fixture:
    """A file path if it names a file, else a fixture name (file stem) in ``directory``."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return load_fixture(candidate)
    named = directory / f"{candidate.name.removesuffix('.json')}.json"
    if named.is_file():
        return load_fixture(named)
    lines = [f"no fixture file or fixture named '{name_or_path}' in {directory}."]
    known = [p.stem for p in fixture_paths(directory)] if directory.is_dir() else []
    suggestions = closest_names(candidate.name.removesuffix(".json"), known)
    if suggestions:
        lines += ["Closest names:", *(f"  {name}" for name in suggestions)]
    if known:
        lines.append(f"`mcas-cds fixtures list` shows all {len(known)}.")
    raise FixtureError("\n".join(lines))


def closest_names(wanted: str, names: list[str], limit: int = 5) -> list[str]:
    """The few names a mistyped or partial fixture name most likely meant, best first:
    names containing it, then names spelled alike."""
    def plain(text: str) -> str:  # "Tier2-fires" finds "tier-2--fires--..."
        return "".join(c for c in text.lower() if c.isalnum())

    folded = plain(wanted)

    def likeness(name: str) -> float:
        return difflib.SequenceMatcher(None, wanted.lower(), name.lower()).ratio()

    containing = sorted((n for n in names if folded and folded in plain(n)), key=likeness,
                        reverse=True)
    alike = difflib.get_close_matches(wanted, names, n=limit, cutoff=0.75)
    chosen: list[str] = []
    for name in [*containing, *alike]:
        if name not in chosen:
            chosen.append(name)
    return chosen[:limit]


def request_for(fixture: Fixture, now: datetime) -> dict[str, Any]:
    """The fixture's request as fired at ``now``: dates shifted, a fresh hookInstance."""
    request: dict[str, Any] = shift_dates(fixture.request, fixture.evaluated_at, now)
    if "hookInstance" in request:
        request["hookInstance"] = str(uuid.uuid4())
    return request
