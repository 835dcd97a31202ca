"""The explain tab on an order-time fixture, in Debian's headless Chromium (issue 16): the
draft orders, each draft's decision and the order rules' comparisons, strict CSP kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service import create_app
from tests.support.browser import chromium, served
from tests.support.storage_fixtures import ADMIN_TOKEN

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
LADDER = "order-ladder--fires--omalizumab-with-tier-1-incomplete"


@pytest.fixture
def page_app(storage_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(storage_config)
    yield app
    app.extensions["mcas_storage"].dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_explain_tab_explains_an_order_fixture(page_app: Flask) -> None:
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with served(page_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/admin")
        page.get_by_label("Administrator token").fill(ADMIN_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Active thresholds")).to_be_visible()
        page.get_by_role("button", name="Explain").first.click()
        select = page.get_by_label("A scenario")
        expect(select.locator("option")).not_to_have_count(1)
        select.select_option(LADDER)
        page.locator("#explain-form").get_by_role("button", name="Explain").click()
        expect(page.locator("#x-summary")).to_contain_text("Cards: order-ladder")
        expect(page.locator("#x-drafts")).to_be_visible()
        expect(page.locator("#x-drafts tbody tr").first).to_contain_text("omalizumab 300 mg")
        rule = page.locator("#x-comparisons tr", has_text="order.ladder.tier1_incomplete")
        expect(rule).to_contain_text("1 first-line classes")
        expect(rule).to_contain_text("draft 1 (MedicationRequest/draft-omalizumab)")
        expect(page.locator("#x-decisions tr",
                            has_text="order-ladder, draft 1")).to_contain_text("shown")
        expect(page.locator("#x-history")).to_contain_text("Card history read")
        page.locator("#x-result").screenshot(path=str(SCREENSHOTS / "doc-explain-order.png"))
        # a patient-view answer afterwards hides the order-time parts again
        select.select_option("tier-2--fires--refractory-two-episodes")
        page.locator("#explain-form").get_by_role("button", name="Explain").click()
        expect(page.locator("#x-summary")).to_contain_text("Cards: tier-2")
        expect(page.locator("#x-drafts")).to_be_hidden()
        assert not [e for e in errors if "Content Security Policy" in e], errors
