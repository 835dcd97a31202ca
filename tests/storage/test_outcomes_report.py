"""The outcomes report (issue 16) over fired fixtures and posted feedback: the API, the
command line and the CSV give the same numbers, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

from flask import Flask

from tests.support.outcomes import assert_outcome
from tests.support.outcomes_seed import ADMIN, OVERRIDE, seed

PERIOD = {"since": "2026-11-01", "until": "2026-12-01"}


def _api(app: Flask, **query: str) -> Any:
    return app.test_client().get("/admin/api/feedback-report",
                                 query_string={**PERIOD, **query}, headers=ADMIN)


def test_report_counts_fired_fixtures_and_feedback(storage_app: Flask) -> None:
    cards = seed(storage_app)
    issued = Counter(c["source"]["topic"]["code"] for c in cards)
    report = _api(storage_app).get_json()
    topics = {row["topic"]: row for row in report["topics"]}
    assert {t: r["issued"] for t, r in topics.items()} == dict(issued)
    # tier-2 was fired twice for the same patient: 2 cards, 1 patient
    assert topics["tier-2"]["issued"] == 2 and topics["tier-2"]["patients"] == 1
    assert topics["tier-2"]["overridden"] == 2
    assert topics["tier-2"]["override_reasons"] == [{**OVERRIDE, "count": 2}]
    accepted = topics["epinephrine-autoinjector"]
    assert accepted["accepted"] == issued["epinephrine-autoinjector"] >= 1
    assert accepted["acceptance_rate"] == 1
    assert topics["albuterol"]["overridden"] == 1
    assert topics["albuterol"]["overridden_without_reason"] == 1
    assert topics["albuterol"]["acceptance_rate"] == 0
    services = {row["service"]: row for row in report["services"]}
    assert services["patient-view"]["issued"] == len(cards)
    assert services["patient-view"]["patients"] == 5  # five fixtures, five patients
    # the week of 2026-11-25 (a Wednesday) starts on Monday 2026-11-23
    assert {row["week"] for row in report["weekly"]} == {"2026-11-23"}
    assert sum(row["issued"] for row in report["weekly"]) == len(cards)
    versions = {row["thresholds_version"] for row in report["by_thresholds_version"]}
    assert len(versions) == 1 and versions.pop().startswith("sha256:")


def test_cli_json_and_csv_match_the_api(storage_app: Flask) -> None:
    seed(storage_app)
    api = _api(storage_app).get_json()
    runner = storage_app.test_cli_runner()
    args = ["feedback-report", "--since", PERIOD["since"], "--until", PERIOD["until"]]
    cli = json.loads(runner.invoke(args=[*args, "--format", "json"]).output)
    assert cli == api
    csv_cli = runner.invoke(args=[*args, "--csv"]).output
    download = _api(storage_app, format="csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    # the same CSV (the terminal may turn CRLF line ends into LF)
    assert download.get_data(as_text=True).replace("\r\n", "\n") == csv_cli.replace("\r\n", "\n")
    rows = list(csv.DictReader(io.StringIO(csv_cli)))
    by_name = {(r["scope"], r["name"]): r for r in rows}
    for row in api["topics"]:
        line = by_name[("topic", row["topic"])]
        assert (int(line["issued"]), int(line["patients"]), int(line["accepted"]),
                int(line["overridden"])) == (row["issued"], row["patients"], row["accepted"],
                                             row["overridden"])
    assert int(by_name[("service", "patient-view")]["issued"]) == api["services"][0]["issued"]
    table = runner.invoke(args=args).output
    assert "tier-2" in table and "[patient-view]" in table


def test_topic_filter_and_refusals(storage_app: Flask) -> None:
    seed(storage_app)
    only = _api(storage_app, topic="tier-2").get_json()
    assert [row["topic"] for row in only["topics"]] == ["tier-2"]
    assert only["services"][0]["issued"] == 2
    assert_outcome(_api(storage_app, format="xml"), 400, "format")
    assert_outcome(_api(storage_app, topic="no-such-topic"), 400, "topic")
    assert_outcome(_api(storage_app, include_test="maybe"), 400, "include_test")


def test_charts_are_strict_svg_with_titles(storage_app: Flask) -> None:
    seed(storage_app)
    client = storage_app.test_client()
    weekly = client.get("/admin/api/outcomes/weekly.svg",
                        query_string={**PERIOD, "topic": "tier-2"}, headers=ADMIN)
    assert weekly.status_code == 200 and weekly.mimetype == "image/svg+xml"
    text = weekly.get_data(as_text=True)
    assert text.startswith("<svg") and "style=" not in text and "<style" not in text
    assert "<script" not in text and "tier-2 per week" in text
    reasons = client.get("/admin/api/outcomes/reasons.svg", query_string=PERIOD, headers=ADMIN)
    assert reasons.status_code == 200
    body = reasons.get_data(as_text=True)
    assert "Patient declined" in body and "style=" not in body
    assert_outcome(client.get("/admin/api/outcomes/weekly.svg", query_string=PERIOD,
                              headers=ADMIN), 400, "topic")


def test_test_traffic_is_left_out_unless_asked_for(storage_app: Flask) -> None:
    from tests.support.outcomes_seed import fire_fixtures

    seed(storage_app)
    real = _api(storage_app).get_json()
    test_cards = fire_fixtures(storage_app, test=True,
                               fired={"tier-2--fires--refractory-two-episodes": 1})
    assert test_cards  # the bundled fixtures' patients are test patients (mcas-test-)
    assert _api(storage_app).get_json()["topics"] == real["topics"]
    both = _api(storage_app, include_test="true").get_json()
    tier2 = {row["topic"]: row for row in both["topics"]}["tier-2"]
    real_tier2 = {row["topic"]: row for row in real["topics"]}["tier-2"]
    assert tier2["issued"] == real_tier2["issued"] + 1
    assert tier2["patients"] == real_tier2["patients"] + 1
    runner = storage_app.test_cli_runner()
    args = ["feedback-report", "--since", PERIOD["since"], "--until", PERIOD["until"],
            "--format", "json"]
    assert json.loads(runner.invoke(args=[*args, "--include-test"]).output) == both
    assert json.loads(runner.invoke(args=args).output) == real


def test_rules_versions_are_recorded_reported_and_marked(storage_app: Flask) -> None:
    """Cards fired through the app record the rules version (migration 0009): the report
    splits by it, lists its first day, the weekly chart marks it and the CSV has its rows;
    a card recorded without one (before 0009) is "unknown", never guessed."""
    from sqlalchemy import insert

    from service.pipeline.rules import RULES_VERSION
    from service.storage.models import issued_cards
    from tests.support.storage_fixtures import NOW, engine_of

    cards = seed(storage_app)
    with engine_of(storage_app).begin() as connection:
        connection.execute(insert(issued_cards).values(
            card_uuid="before-0009", topic="tier-2", hook_instance="h", issued_at=NOW,
            thresholds_version="sha256:old", patient_hash="b" * 64))
        stored = {v for (v,) in connection.exec_driver_sql(
            "SELECT DISTINCT rules_version FROM issued_cards")}
    assert stored == {RULES_VERSION, None}
    report = _api(storage_app).get_json()
    assert report["rules_versions"] == [
        {"rules_version": RULES_VERSION, "first_issued": NOW.date().isoformat()},
        {"rules_version": "unknown", "first_issued": NOW.date().isoformat()},
    ]  # by first day, then name
    by_rules = {(r["topic"], r["rules_version"]): r for r in report["by_rules_version"]}
    assert by_rules[("tier-2", "unknown")]["issued"] == 1
    assert sum(r["issued"] for (_, v), r in by_rules.items() if v == RULES_VERSION) == len(
        cards)
    assert by_rules[("tier-2", RULES_VERSION)]["first_issued"] == NOW.date().isoformat()
    weekly = storage_app.test_client().get(
        "/admin/api/outcomes/weekly.svg", query_string={**PERIOD, "topic": "tier-2"},
        headers=ADMIN).get_data(as_text=True)
    assert f"rules v{RULES_VERSION}" in weekly and "rules vunknown" not in weekly
    assert f"Rules version {RULES_VERSION}: first card issued on 2026-11-25" in weekly
    rows = list(csv.reader(io.StringIO(_api(storage_app, format="csv").get_data(as_text=True))))
    scoped = {row[1]: row for row in rows if row[0] == "rules_version"}
    assert scoped["tier-2 rules unknown"][2] == "1"
    assert scoped[f"tier-2 rules {RULES_VERSION}"][3] == ""  # patients are not split


def test_the_roll_up_and_the_report_time_are_counted_in_metrics(storage_app: Flask) -> None:
    """/metrics: days rolled up (by the report) and the report's time."""
    from datetime import timedelta

    from prometheus_client import REGISTRY
    from sqlalchemy import insert

    from service.storage.models import issued_cards
    from tests.support.storage_fixtures import NOW, engine_of

    with engine_of(storage_app).begin() as connection:
        connection.execute(insert(issued_cards).values(
            card_uuid="three-days-ago", topic="tier-2", hook_instance="h",
            issued_at=NOW - timedelta(days=3), thresholds_version="sha256:aa",
            patient_hash="c" * 64))

    def sample(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    days = sample("mcas_report_days_rolled_up_total", {"by": "report"})
    timed = sample("mcas_outcomes_report_seconds_count", {"patients": "exact"})
    report = _api(storage_app).get_json()
    assert report["topics"][0]["issued"] == 1 and not report["patients_estimated"]
    assert sample("mcas_report_days_rolled_up_total", {"by": "report"}) == days + 3
    assert sample("mcas_outcomes_report_seconds_count", {"patients": "exact"}) == timed + 1
    scrape = storage_app.test_client().get("/metrics").get_data(as_text=True)
    assert "mcas_report_days_rolled_up_total" in scrape
