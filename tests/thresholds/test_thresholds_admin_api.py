"""The thresholds administrator API on SQLite and a real PostgreSQL (issue 6)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from service import create_app
from service.storage.models import issued_cards
from service.thresholds.files import load_thresholds
from tests.support.storage_fixtures import engine_of
from tests.support.thresholds_admin import (
    ADMIN,
    API,
    apply,
    card_versions,
    default_values,
    fire,
    get,
    post,
    rollback,
    topics,
    with_tier1,
)

ROUTES = [
    ("GET", ""), ("POST", "/validate"), ("POST", "/preview"), ("POST", "/apply"),
    ("GET", "/history"), ("POST", "/rollback"), ("GET", "/export"), ("GET", "/versions/1"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_the_admin_token(
    storage_app: Flask, method: str, path: str
) -> None:
    client = storage_app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token-" + "y" * 32},
                    {"Authorization": "Basic abc"}):
        response = client.open(API + path, method=method, json={}, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_without_a_configured_token_administration_is_off(
    tmp_path: Path, method: str, path: str
) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    response = app.test_client().open(API + path, method=method, json={}, headers=ADMIN)
    assert response.status_code == 503
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_active_shows_the_file_with_meaning_and_unit(storage_app: Flask) -> None:
    body = get(storage_app)
    assert body["source"] == "file" and body["mode"] == "database"
    assert body["version"] == body["file_version"]
    assert body["version"].startswith("sha256:")
    assert body["values"] == default_values()
    fields = {f["field"]: f for f in body["fields"]}
    assert fields["min_trial_days.tier1"] == {
        "field": "min_trial_days.tier1",
        "label": "Minimum trial, tier 1",
        "unit": "days",
        "meaning": fields["min_trial_days.tier1"]["meaning"],
        "kind": "int",
        "range": "14 to 180",
        "min": 14,
        "max": 180,
        "warn_below": 14,
        "warn_above": 56,
        "value": 28,
    }
    assert fields["mediator_thresholds.histamine_plasma"]["unit"] == "nmol/L"
    assert "mediator_thresholds.prostaglandin_d2" not in fields  # removed in rules v2
    assert fields["mediator_thresholds.histamine_plasma"]["kind"] == "number"
    assert fields["cards_enabled.albuterol"]["value"] is True
    assert all(f["meaning"] and f["unit"] for f in body["fields"])
    # a warning card: 7 days (docs/clinical-rules.md §8)
    assert fields["snooze_days.aspirin-caution"]["value"] == 7
    assert fields["snooze_days.order-trigger-drug"]["value"] == 7
    # 42, one snooze_days per patient-view topic (issue 14), order_dedupe_minutes, six
    # order-time cards_enabled and order-trigger-drug's snooze_days (issue 15)
    assert len(fields) == 64


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"lookback_days": 0}, "lookback_days",
         "Must be between 30 and 730 (clinical range of the rules)."),
        ({"min_trial_days": {"tier1": 28.5, "tier2": 56, "tier3": 90, "tier4": 90}},
         "min_trial_days.tier1", "whole number"),
        ({"min_trial_days": {"tier1": 28, "tier2": 56, "tier3": 90}},
         "min_trial_days.tier4", "Missing data for required field"),
        ({"tryptase_factor": 1.2}, "tryptase_factor", "removed in rules v2"),
        ({"tryptase_acute_window_hours": "4"}, "tryptase_acute_window_hours",
         "Must be a number"),
        ({"biologic_review_window_days": [180, 90]}, "biologic_review_window_days",
         "low bound must not be above the high bound"),
        ({"steroid_max_days": None}, "steroid_max_days", "may not be null"),
        ({"surprise": 1}, "surprise", "Unknown field"),
    ],
)
def test_validation_names_the_field_and_the_rule(
    storage_app: Flask, change: dict[str, Any], field: str, rule: str
) -> None:
    values = {**default_values(), **change}
    body = post(storage_app, "/validate", {"values": values}).get_json()
    assert body["valid"] is False
    assert any(e["field"] == field and rule in e["message"] for e in body["errors"]), body
    # Apply refuses the same proposal with a 400 naming the field, and stores nothing.
    response = apply(storage_app, values, get(storage_app)["version"])
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    assert any(i["expression"] == [field] and rule in i["diagnostics"] for i in issues)
    assert get(storage_app, "/history")["versions"] == []


def test_a_valid_proposal_lists_its_changes(storage_app: Flask) -> None:
    body = post(storage_app, "/validate", {"values": with_tier1(180)}).get_json()
    assert body["valid"] is True
    assert body["changes"] == [{"field": "min_trial_days.tier1", "old": 28, "new": 180}]


def test_apply_history_rollback_and_cards_carry_the_version(storage_app: Flask) -> None:
    file_version = get(storage_app)["version"]
    assert card_versions(fire(storage_app)) == {file_version}

    response = apply(storage_app, with_tier1(180), file_version)
    assert response.status_code == 201, response.get_json()
    applied = response.get_json()
    assert applied["number"] == 2 and applied["parent"] == 1 and applied["action"] == "apply"
    assert applied["version"] == f"v2.{applied['content_hash']}"
    assert applied["author"] == "Dr A. Admin"
    assert applied["reason"] == "Committee decision 2026-11"
    assert applied["created_at"] == "2026-11-25T11:44:40Z"
    assert applied["changes"] == [{"field": "min_trial_days.tier1", "old": 28, "new": 180}]

    active = get(storage_app)
    assert active["source"] == "database" and active["version"] == applied["version"]
    assert active["values"]["min_trial_days"]["tier1"] == 180

    # The applying process serves it at once: tier 1 is no longer refractory at 180 days.
    cards = fire(storage_app)
    assert "tier-2" not in topics(cards)
    assert card_versions(cards) == {applied["version"]}
    with engine_of(storage_app).connect() as connection:
        recorded = {row.thresholds_version for row in connection.execute(select(issued_cards))}
    assert recorded == {file_version, applied["version"]}

    history = get(storage_app, "/history")
    assert history["active"] == 2
    [newest, imported] = history["versions"]
    assert newest["number"] == 2 and newest["active"] is True
    assert imported["number"] == 1 and imported["action"] == "import"
    assert imported["content_hash"] == file_version and imported["parent"] is None
    assert get(storage_app, "/versions/1")["values"] == default_values()

    response = rollback(storage_app, 1, applied["version"])
    assert response.status_code == 201, response.get_json()
    rolled = response.get_json()
    assert rolled["number"] == 3 and rolled["parent"] == 2
    assert rolled["action"] == "rollback" and rolled["rollback_of"] == 1
    assert rolled["content_hash"] == file_version
    assert rolled["changes"] == [{"field": "min_trial_days.tier1", "old": 180, "new": 28}]
    cards = fire(storage_app)
    assert "tier-2" in topics(cards)
    assert card_versions(cards) == {f"v3.{file_version}"}
    assert [v["number"] for v in get(storage_app, "/history")["versions"]] == [3, 2, 1]


def test_a_stale_proposal_is_refused_with_409(storage_app: Flask) -> None:
    base = get(storage_app)["version"]
    assert apply(storage_app, with_tier1(100), base).status_code == 201
    # A second administrator still editing the file's version:
    response = apply(storage_app, with_tier1(180), base)
    assert response.status_code == 409
    assert "reload" in response.get_json()["issue"][0]["diagnostics"]
    stale_rollback = rollback(storage_app, 1, base)
    assert stale_rollback.status_code == 409
    assert get(storage_app)["values"]["min_trial_days"]["tier1"] == 100
    assert len(get(storage_app, "/history")["versions"]) == 2


def test_concurrent_applies_on_one_version_store_exactly_one(storage_app: Flask) -> None:
    base = get(storage_app)["version"]
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def propose(days: int) -> None:
        barrier.wait()
        with storage_app.app_context():
            statuses.append(apply(storage_app, with_tier1(days), base).status_code)

    threads = [threading.Thread(target=propose, args=(days,)) for days in (50, 60, 70, 80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert len(get(storage_app, "/history")["versions"]) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"values": {}, "base_version": "x", "author": "A"}, "reason"),
        ({"values": {}, "base_version": "x", "reason": "r"}, "author"),
        ({"values": {}, "author": "A", "reason": "r"}, "base_version"),
        ({"values": {}, "base_version": "x", "author": "A", "reason": "   "}, "reason"),
    ],
)
def test_a_change_needs_author_reason_and_base(
    storage_app: Flask, body: dict[str, Any], field: str
) -> None:
    response = post(storage_app, "/apply", body)
    assert response.status_code == 400
    assert field in response.get_json()["issue"][0]["diagnostics"]


def test_nothing_to_apply_and_unknown_rollback_target(storage_app: Flask) -> None:
    base = get(storage_app)["version"]
    response = apply(storage_app, default_values(), base)
    assert response.status_code == 400
    assert "nothing to apply" in response.get_json()["issue"][0]["diagnostics"]
    response = post(storage_app, "/rollback", {
        "to_version": 99, "base_version": base, "author": "A", "reason": "r"})
    assert response.status_code == 404


def test_export_round_trips_through_the_thresholds_file(
    storage_app: Flask, tmp_path: Path
) -> None:
    applied = apply(storage_app, with_tier1(180), get(storage_app)["version"]).get_json()
    response = storage_app.test_client().get(API + "/export", headers=ADMIN)
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert f"# version: {applied['version']}" in text
    assert "by Dr A. Admin" in text
    exported = tmp_path / "exported.yaml"
    exported.write_text(text)
    assert load_thresholds(exported).version == applied["content_hash"]
    assert yaml.safe_load(text)["min_trial_days"]["tier1"] == 180

    result = storage_app.test_cli_runner().invoke(
        args=["thresholds", "export", "--output", str(tmp_path / "cli.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli.yaml").read_text() == text
    stdout = storage_app.test_cli_runner().invoke(args=["thresholds", "export"])
    assert stdout.output == text
    history = storage_app.test_cli_runner().invoke(args=["thresholds", "history"])
    assert '"number": 2' in history.output


def test_gitops_mode_uses_only_the_file(storage_config: dict[str, Any]) -> None:
    database_app = create_app(storage_config)
    applied = apply(database_app, with_tier1(180), get(database_app)["version"]).get_json()
    file_app = create_app({**storage_config, "THRESHOLDS_SOURCE": "file"})
    try:
        active = get(file_app)
        assert active["mode"] == "file" and active["source"] == "file"
        assert active["values"] == default_values()
        assert card_versions(fire(file_app)) == {active["file_version"]}
        response = apply(file_app, with_tier1(150), active["version"])
        assert response.status_code == 409
        assert "MCAS_THRESHOLDS_SOURCE=file" in response.get_json()["issue"][0]["diagnostics"]
        # Preview and export still work: export says it is the file.
        assert "no stored version is active" in file_app.test_client().get(
            API + "/export", headers=ADMIN).get_data(as_text=True)
        assert card_versions(fire(database_app)) == {applied["version"]}
    finally:
        database_app.extensions["mcas_storage"].dispose()
        file_app.extensions["mcas_storage"].dispose()


def test_the_page_holds_no_data_and_a_strict_policy(storage_app: Flask) -> None:
    client = storage_app.test_client()
    page = client.get("/admin")
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    # Labels and units are rendered on the server; values only come through the API.
    assert 'for="f-min_trial_days.tier1"' in html and "mcg/g creatinine" in html  # clinical units
    assert "<script>" not in html and 'value="28"' not in html
    script = client.get("/admin/static/admin.js")
    assert script.status_code == 200 and "sessionStorage" in script.get_data(as_text=True)
    assert script.headers["X-Content-Type-Options"] == "nosniff"


def test_every_schema_field_has_a_meaning_and_unit() -> None:
    from service.knowledge.loader import bundled_cards_dir
    from service.thresholds.fields import field_infos, leaves

    paths = [info.path for info in field_infos(Path(bundled_cards_dir()))]
    assert paths == list(leaves(default_values()))
    meta = yaml.safe_load((Path(bundled_cards_dir()) / "thresholds_meta.yaml").read_text())
    assert set(meta) == set(paths)  # nothing stale either


def test_a_stored_version_this_release_rejects_is_reported_not_served(
    storage_app: Flask,
) -> None:
    """E.g. a v1 version whose tier-1 trial is outside the clinical range of rules v2.

    (A missing or removed field is not a rejection: the upgrade rule fills or drops it,
    tests/thresholds/test_upgrade_rule.py.)
    """
    import json

    from sqlalchemy import update

    from service.storage.models import thresholds_versions

    applied = apply(storage_app, with_tier1(180), get(storage_app)["version"]).get_json()
    file_version = get(storage_app, "/versions/1")["content_hash"]
    broken = with_tier1(200)  # valid in v1, outside [14-180] in v2
    with engine_of(storage_app).begin() as connection:
        connection.execute(
            update(thresholds_versions)
            .where(thresholds_versions.c.id == 2)
            .values(values_json=json.dumps(broken))
        )
    fresh = create_app(storage_app.config)  # a process starting after the upgrade
    try:
        body = get(fresh)
        # The file is served, and the page says why the stored version is not.
        assert body["source"] == "file" and body["version"] == file_version
        problem = body["stored_unusable"]["problem"]
        assert "thresholds version 2" in problem and "min_trial_days.tier1" in problem
        assert "between 14 and 180" in problem
        assert body["stored_unusable"]["number"] == 2 and "stored" not in body
        # Hooks answer with the file's thresholds meanwhile.
        assert card_versions(fire(fresh)) == {file_version}
        # A rollback to a valid version repairs it (the base is the version in force).
        response = rollback(fresh, 1, body["version"], reason="repair")
        assert response.status_code == 201, response.get_json()
        assert card_versions(fire(fresh)) == {f"v3.{file_version}"}
        # The broken version cannot be rolled back to.
        response = rollback(fresh, 2, f"v3.{file_version}", reason="try")
        assert response.status_code == 400
        assert "between 14 and 180" in response.get_json()["issue"][0]["diagnostics"]
        assert applied["number"] == 2
    finally:
        fresh.extensions["mcas_storage"].dispose()
