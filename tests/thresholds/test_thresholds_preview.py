"""The what-if preview: fixtures and saved requests under active vs proposed thresholds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from flask import Flask

from service import create_app
from service.scenarios.fixtures import FIXTURES_DIR, fixture_paths, load_fixture, request_for
from tests.support.storage_fixtures import NOW
from tests.support.thresholds_admin import (
    TIER2_FIXTURE,
    apply,
    default_values,
    fire,
    get,
    post,
    with_tier1,
)


def run_preview(app: Flask, values: dict[str, Any]) -> dict[str, Any]:
    response = post(app, "/preview", {"values": values})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_preview_shows_cards_disappearing_per_fixture_and_changes_nothing(
    storage_app: Flask,
) -> None:
    before = get(storage_app)
    result = run_preview(storage_app, with_tier1(180))
    assert result["scenarios_run"] == len(fixture_paths())
    assert result["current_version"] == before["version"]
    assert result["proposed_version"] != before["version"]
    changed = {row["name"]: row for row in result["changed"]}
    row = changed[TIER2_FIXTURE]
    assert row["disappear"] == ["tier-2"] and row["appear"] == []
    assert row["current"] == ["steroid-long-term", "tier-2"]
    assert row["proposed"] == ["steroid-long-term"]
    # The disappearing card is drawn as the EHR shows it (service/cards_html), as it is now.
    assert [card["topic"] for card in row["disappear_cards"]] == ["tier-2"]
    assert row["appear_cards"] == []
    html = row["disappear_cards"][0]["html"]
    assert html.startswith('<article class="cds-card cds-card--info" data-topic="tier-2">')
    assert "Dismiss with a reason:" in html and "<script" not in html
    # Only tier-2 decisions depend on the tier-1 trial; every other scenario is unchanged.
    assert all(r["disappear"] == ["tier-2"] for r in result["changed"])
    assert result["cards_disappearing"] == result["scenarios_changed"] > 0
    assert result["scenarios_changed"] + len(result["unchanged"]) == result["scenarios_run"]
    assert result["problems"] == []
    # Nothing changed until apply.
    assert get(storage_app) == before
    assert get(storage_app, "/history")["versions"] == []


def test_switching_a_card_off_makes_it_disappear_wherever_it_fired(storage_app: Flask) -> None:
    values = default_values()
    values["cards_enabled"]["epinephrine-autoinjector"] = False
    result = run_preview(storage_app, values)
    expected = {
        fixture.name
        for fixture in map(load_fixture, fixture_paths())
        if "epinephrine-autoinjector" in fixture.expected_topics
    }
    assert expected
    assert {row["name"] for row in result["changed"]} == expected
    assert all(row["disappear"] == ["epinephrine-autoinjector"] for row in result["changed"])


def test_preview_compares_with_the_active_stored_version(storage_app: Flask) -> None:
    applied = apply(storage_app, with_tier1(180), get(storage_app)["version"]).get_json()
    result = run_preview(storage_app, default_values())
    assert result["current_version"] == applied["version"]
    assert all(row["appear"] == ["tier-2"] for row in result["changed"])
    assert all([c["topic"] for c in row["appear_cards"]] == ["tier-2"]
               for row in result["changed"])
    assert TIER2_FIXTURE in {row["name"] for row in result["changed"]}


def test_an_invalid_proposal_is_not_previewed(storage_app: Flask) -> None:
    response = post(storage_app, "/preview", {"values": with_tier1(-1)})
    assert response.status_code == 400
    [issue] = response.get_json()["issue"]
    assert issue["expression"] == ["min_trial_days.tier1"]
    assert "Must be between 14 and 180 (clinical range of the rules)" in issue["diagnostics"]


def test_saved_requests_and_a_fixtures_setting_are_previewed(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    shutil.copy(FIXTURES_DIR / f"{TIER2_FIXTURE}.json", fixtures)
    saved = tmp_path / "saved"
    saved.mkdir()
    # A bare de-identified request, as captured, fired as it is.
    bare = request_for(load_fixture(FIXTURES_DIR / f"{TIER2_FIXTURE}.json"), NOW)
    (saved / "clinic-0001.json").write_text(json.dumps(bare))
    (saved / "broken.json").write_text("{not json")
    app = create_app({
        "TESTING": True, "DATA_DIR": str(tmp_path / "data"), "CLOCK": lambda: NOW,
        "ADMIN_TOKEN": "admin-token-" + "x" * 32,
        "PREVIEW_FIXTURES_DIR": str(fixtures), "PREVIEW_REQUESTS_DIR": str(saved),
    })
    result = run_preview(app, with_tier1(180))
    assert result["scenarios_run"] == 2
    assert {(row["name"], row["source"]) for row in result["changed"]} == {
        (TIER2_FIXTURE, "fixture"), ("clinic-0001", "saved")}
    assert len(result["problems"]) == 1 and result["problems"][0].startswith("broken.json")


def test_the_preview_does_not_flood_the_service_log(storage_app: Flask) -> None:
    import io
    import logging

    [handler] = [h for h in logging.getLogger("service").handlers
                 if getattr(h, "_mcas_json_lines", False)]
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        run_preview(storage_app, with_tier1(180))
        fire(storage_app, "tier-2--fires--malformed-resources-among-good-ones")
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    loggers = [json.loads(line)["logger"] for line in stream.getvalue().splitlines()]
    # The preview's own request line only; a hook outside the preview still warns.
    assert loggers[0] == "service.request"
    assert "service.pipeline.facts.validation" in loggers[1:]


def test_a_saved_request_the_service_rejects_shows_its_status(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "not-a-hook.json").write_text(json.dumps({"hook": "order-sign"}))
    app = create_app({
        "TESTING": True, "DATA_DIR": str(tmp_path / "data"), "CLOCK": lambda: NOW,
        "ADMIN_TOKEN": "admin-token-" + "x" * 32,
        "PREVIEW_FIXTURES_DIR": str(tmp_path / "none"), "PREVIEW_REQUESTS_DIR": str(saved),
    })
    values = default_values()
    values["cards_enabled"]["tier-1"] = False
    result = run_preview(app, values)
    assert result["scenarios_run"] == 1 and result["changed"] == []
    assert result["unchanged"] == ["not-a-hook"]
    assert result["failed"] == [
        {"name": "not-a-hook", "current": "HTTP 400", "proposed": "HTTP 400"}]
