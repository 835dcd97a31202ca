"""The outcomes and explain tabs in Debian's headless Chromium (issue 16, done-when).

A database of fired fixtures and posted feedback: the outcomes tab shows the numbers of
the report API and the command line, draws its charts (inline SVG, strict CSP), downloads
the CSV; the explain tab explains a fixture with its comparisons.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service import create_app
from tests.support.browser import chromium, served
from tests.support.outcomes_seed import ADMIN, seed
from tests.support.storage_fixtures import ADMIN_TOKEN

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PERIOD = {"since": "2026-11-01", "until": "2026-12-01"}


@pytest.fixture
def page_app(storage_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(storage_config)
    yield app
    app.extensions["mcas_storage"].dispose()


def _sign_in(page: Any, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/admin")
    page.get_by_label("Administrator token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Active thresholds")).to_be_visible()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_outcomes_tab_shows_the_reports_numbers_charts_and_csv(page_app: Flask) -> None:
    from playwright.sync_api import expect

    seed(page_app)
    api = page_app.test_client().get("/admin/api/feedback-report", query_string=PERIOD,
                                     headers=ADMIN).get_json()
    cli = json.loads(page_app.test_cli_runner().invoke(args=[
        "feedback-report", "--since", PERIOD["since"], "--until", PERIOD["until"],
        "--format", "json"]).output)
    assert cli == api
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with served(page_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        _sign_in(page, base)
        page.get_by_role("button", name="Outcomes").click()
        page.get_by_label("From").fill(PERIOD["since"])
        page.get_by_label("Until (not included)").fill(PERIOD["until"])
        page.get_by_role("button", name="Show").click()
        # one chart per topic, drawn on the server: give them time on a shared machine
        expect(page.locator("#status")).to_contain_text("Outcomes shown", timeout=60_000)
        for row in api["topics"]:
            line = page.locator("#o-topics tbody tr", has_text=row["topic"]).first
            cells = line.locator("td").all_inner_texts()
            assert cells[:5] == [str(row["issued"]), str(row["patients"]), str(row["snoozed"]),
                                 str(row["accepted"]), str(row["overridden"])], row
        expect(page.locator("#o-services tbody tr").first).to_contain_text("patient-view")
        expect(page.locator("#o-reasons-chart svg")).to_have_count(1)
        expect(page.locator("#o-reasons-chart svg")).to_contain_text("Patient declined")
        weekly = page.locator('#o-weekly .chart[data-topic="tier-2"] svg')
        expect(weekly).to_have_count(1)
        assert weekly.bounding_box()["height"] > 100  # type: ignore[index]
        page.screenshot(path=str(SCREENSHOTS / "admin-outcomes.png"), full_page=True)
        page.locator("#o-topics").screenshot(path=str(SCREENSHOTS / "doc-outcomes-table.png"))
        page.locator("#o-reasons-chart").screenshot(
            path=str(SCREENSHOTS / "doc-outcomes-reasons.png"))
        page.locator('#o-weekly .chart[data-topic="tier-2"]').screenshot(
            path=str(SCREENSHOTS / "doc-outcomes-weekly.png"))
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download CSV").click()
        text = Path(download_info.value.path()).read_text(encoding="utf-8")
        rows = {(r["scope"], r["name"]): r for r in csv.DictReader(io.StringIO(text))}
        for row in api["topics"]:
            assert int(rows[("topic", row["topic"])]["issued"]) == row["issued"]
        # the charts and their tables kept the strict CSP: no violation was reported
        assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_outcomes_tab_shows_the_order_time_rows_and_rules_markers(page_app: Flask) -> None:
    """Real order cards (order-select, order-sign), their feedback and a snoozed one: the
    page's per-service rows are the report's, which match what was fired
    (tests/web/test_admin_outcomes_orders.py); the rules version's table and markers."""
    from playwright.sync_api import expect

    from service.pipeline.rules import RULES_VERSION
    from tests.support.outcomes_orders import seed_orders

    seeded = seed_orders(page_app)
    api = page_app.test_client().get("/admin/api/feedback-report", query_string=PERIOD,
                                     headers=ADMIN).get_json()
    services = {row["service"]: row for row in api["services"]}
    assert services["order-time"]["issued"] == len(seeded.ordered)
    assert services["order-time"]["snoozed"] == 1
    with served(page_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        _sign_in(page, base)
        page.get_by_role("button", name="Outcomes").click()
        page.get_by_label("From").fill(PERIOD["since"])
        page.get_by_label("Until (not included)").fill(PERIOD["until"])
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#status")).to_contain_text("Outcomes shown", timeout=60_000)
        for name, row in services.items():
            line = page.locator("#o-services tbody tr", has_text=name).first
            cells = line.locator("td").all_inner_texts()
            assert cells[:5] == [str(row["issued"]), str(row["patients"]), str(row["snoozed"]),
                                 str(row["accepted"]), str(row["overridden"])], row
        rules = page.locator("#o-rules tbody tr", has_text="order-trigger-drug").first
        expect(rules).to_contain_text(RULES_VERSION)
        markers = page.locator("#o-weekly table", has_text="the chart's markers").first
        expect(markers).to_contain_text(f"rules version {RULES_VERSION} first issued")
        expect(markers).to_contain_text("dash-dot line")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_explain_tab_explains_a_fixture(page_app: Flask) -> None:
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with served(page_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        _sign_in(page, base)
        page.get_by_role("button", name="Explain").first.click()
        select = page.get_by_label("A scenario")
        expect(select.locator("option")).not_to_have_count(1)
        select.select_option("tier-2--fires--refractory-two-episodes")
        expect(page.locator("#x-fixture-description")).to_contain_text("expected: tier-2")
        page.locator("#explain-form").get_by_role("button", name="Explain").click()
        expect(page.locator("#x-summary")).to_contain_text("Cards: tier-2")
        trial = page.locator("#x-comparisons tr", has_text="refractory.trial")
        expect(trial).to_contain_text("100 d")
        expect(trial).to_contain_text("28")
        expect(trial).to_contain_text("tier 1 since")
        expect(page.locator("#x-decisions tr", has_text="tier-2")).to_contain_text("shown")
        expect(page.locator("#x-read")).to_contain_text("anaphylaxis episode")
        page.screenshot(path=str(SCREENSHOTS / "admin-explain.png"), full_page=True)
        page.locator("#x-comparisons").screenshot(path=str(SCREENSHOTS / "doc-explain.png"))
        # A pasted request that is not JSON: the message is next to the field.
        select.select_option("")
        page.get_by_label("Or a CDS Hooks request (JSON)").fill("{not json")
        page.locator("#explain-form").get_by_role("button", name="Explain").click()
        expect(page.locator("#e-x-request")).to_contain_text("Not JSON")
