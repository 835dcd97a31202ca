"""Fixture date shifting keeps a fixture's meaning on any day (docs/clinical-rules.md §6.2)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.scenarios.dates import shift_dates
from service.scenarios.fixtures import (
    FixtureError,
    load_fixture,
    parse_instant,
    request_for,
)

EVALUATED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _shift(value: Any, delta: timedelta) -> Any:
    return shift_dates(value, EVALUATED, EVALUATED + delta)


def test_full_datetime_moves_by_the_exact_delta() -> None:
    delta = timedelta(days=40, hours=7, minutes=13, seconds=5)
    shifted = _shift({"onsetDateTime": "2026-10-01T08:30:00Z"}, delta)
    assert shifted == {"onsetDateTime": "2026-11-10T15:43:05Z"}


def test_sub_second_deltas_stay_exact() -> None:
    delta = timedelta(days=3, seconds=7, microseconds=123456)
    shifted = _shift(
        {"onsetDateTime": "2026-05-29T12:00:00Z", "authoredOn": "2026-05-29"}, delta
    )
    assert shifted == {
        "onsetDateTime": "2026-06-01T12:00:07.123456Z",
        "authoredOn": "2026-06-01T00:00:07.123456Z",
    }
    assert parse_instant(shifted["onsetDateTime"]) == datetime(2026, 5, 29, 12, tzinfo=UTC) + delta


def test_offset_and_fraction_are_kept() -> None:
    shifted = _shift(
        {"issued": "2026-10-01T08:30:00.250+02:00"}, timedelta(hours=1, milliseconds=500)
    )
    assert shifted == {"issued": "2026-10-01T09:30:00.750+02:00"}
    assert parse_instant(shifted["issued"]) == datetime(2026, 10, 1, 7, 30, 0, 750000, UTC)


def test_date_only_in_a_datetime_element_becomes_start_of_day_utc_plus_delta() -> None:
    # 2026-10-28 means 2026-10-28T00:00Z; half a day later it must stay 28.5 days before now.
    shifted = _shift({"effectivePeriod": {"start": "2026-10-28"}}, timedelta(hours=12))
    assert shifted == {"effectivePeriod": {"start": "2026-10-28T12:00:00Z"}}
    now = EVALUATED + timedelta(hours=12)
    assert now - parse_instant(shifted["effectivePeriod"]["start"]) == timedelta(days=28, hours=12)


def test_partial_dates_in_datetime_elements_are_start_of_period() -> None:
    shifted = _shift({"recordedDate": "2025", "onsetDateTime": "2025-03"}, timedelta(days=1))
    assert shifted == {
        "recordedDate": "2025-01-02T00:00:00Z",
        "onsetDateTime": "2025-03-02T00:00:00Z",
    }


def test_birthdate_moves_by_whole_calendar_days_and_keeps_precision() -> None:
    now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 1 day 15 h later, 2 calendar days
    shifted = shift_dates({"birthDate": "1985-03-14"}, EVALUATED, now)
    assert shifted == {"birthDate": "1985-03-16"}
    assert shift_dates({"birthDate": "1985"}, EVALUATED, now) == {"birthDate": "1985"}


def test_backwards_shift() -> None:
    shifted = _shift({"authoredOn": "2026-11-01T00:00:00Z"}, -timedelta(days=365))
    assert shifted == {"authoredOn": "2025-11-01T00:00:00Z"}


def test_codes_and_text_that_look_numeric_are_not_dates() -> None:
    request = {
        "code": {"coding": [{"code": "3498"}, {"code": "2026"}], "text": "since 2026-01-01"},
        "id": "1985",
        "valueQuantity": {"value": 2026},
    }
    assert _shift(request, timedelta(days=3)) == request


def test_unknown_element_with_an_unambiguous_datetime_is_shifted() -> None:
    shifted = _shift({"extension": [{"valueString": "2026-01-01T00:00:00Z"}]}, timedelta(days=1))
    assert shifted == {"extension": [{"valueString": "2026-01-02T00:00:00Z"}]}


def test_impossible_dates_are_left_as_written() -> None:
    # A fixture's deliberately unreadable date stays unreadable wherever it is fired.
    request = {"onsetDateTime": "2025-02-30", "birthDate": "2016-13-01",
               "recordedDate": "2025-06-31T10:00:00Z", "effectivePeriod": {"start": "soon"}}
    assert shift_dates(request, EVALUATED, EVALUATED + timedelta(days=40)) == request


def test_the_input_is_not_changed() -> None:
    request = {"prefetch": {"conditions": {"entry": [{"resource": {"recordedDate": "2026"}}]}}}
    before = json.dumps(request)
    _shift(request, timedelta(days=5))
    assert json.dumps(request) == before


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        shift_dates({}, EVALUATED.replace(tzinfo=None), EVALUATED)


def test_request_for_gives_a_fresh_hook_instance(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    hook_instance = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    path.write_text(
        json.dumps(
            {
                "description": "d",
                "evaluatedAt": "2026-11-25T12:00:00Z",
                "expectedTopics": ["tier-1"],
                "request": {
                    "hook": "patient-view",
                    "hookInstance": hook_instance,
                    "context": {"patientId": "p"},
                    "prefetch": {"conditions": {"recordedDate": "2026-11-20T12:00:00Z"}},
                },
            }
        )
    )
    fixture = load_fixture(path)
    assert fixture.expected_status == 200
    first = request_for(fixture, EVALUATED + timedelta(days=2))
    second = request_for(fixture, EVALUATED + timedelta(days=2))
    assert first["hookInstance"] != hook_instance
    assert first["hookInstance"] != second["hookInstance"]
    uuid.UUID(first["hookInstance"])
    assert first["prefetch"]["conditions"]["recordedDate"] == "2026-11-22T12:00:00Z"
    assert fixture.request["hookInstance"] == hook_instance


@pytest.mark.parametrize(
    "content",
    [
        "[]",
        '{"description": "d"}',
        '{"description": "d", "evaluatedAt": "2026-11-25", "expectedTopics": [], "request": {}}',
        '{"description": "d", "evaluatedAt": "2026-11-25T12:00:00Z", '
        '"expectedTopics": ["a", "a"], "request": {}}',
        '{"description": "d", "evaluatedAt": "2026-11-25T12:00:00Z", '
        '"expectedTopics": ["a"], "absentTopics": ["a"], "request": {}}',
    ],
)
def test_bad_fixture_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FixtureError):
        load_fixture(path)


def test_command_line_prints_the_shifted_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.scenarios.__main__ import main
    from service.scenarios.fixtures import FIXTURES_DIR

    path = FIXTURES_DIR / "tier-2--fires--trial-exactly-28-days.json"
    assert main([str(path), "2027-01-01T12:00:00Z"]) == 0
    printed = json.loads(capsys.readouterr().out)
    fixture = load_fixture(path)
    expected = request_for(fixture, datetime(2027, 1, 1, 12, tzinfo=UTC))
    printed.pop("hookInstance")
    expected.pop("hookInstance")
    assert printed == expected
    assert main([str(tmp_path / "missing.json")]) == 2
    assert "error:" in capsys.readouterr().err
