"""The administrator page end to end in Debian's headless Chromium (issue 6, done-when).

Log in, see a validation message, change min_trial_days.tier1 28 -> 180, see what it
changes on the fixtures, apply it, fire a fixture hook and find the new version in the
card extension, roll back, and find the old values' version again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from service import create_app
from service.scenarios.fixtures import FIXTURES_DIR, load_fixture, request_for
from tests.support.browser import chromium, served
from tests.support.storage_fixtures import ADMIN_TOKEN, NOW
from tests.support.thresholds_admin import TIER2_FIXTURE, VERSION_KEY

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture
def page_app(storage_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(storage_config)
    yield app
    app.extensions["mcas_storage"].dispose()


def fire(base: str) -> dict[str, Any]:
    request = request_for(load_fixture(FIXTURES_DIR / f"{TIER2_FIXTURE}.json"), NOW)
    response = requests.post(base + "/cds-services/mcas-therapy-tier", json=request, timeout=30)
    assert response.status_code == 200
    cards = response.json()["cards"]
    return {
        "topics": {card["source"]["topic"]["code"] for card in cards},
        "versions": {card["extension"][VERSION_KEY] for card in cards},
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_change_preview_apply_and_roll_back_in_the_browser(page_app: Flask) -> None:
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    backend = page_app.extensions["mcas_storage"].backend
    with served(page_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        page.goto(base + "/admin")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

        # A wrong token is refused and the page says so.
        page.get_by_label("Administrator token").fill("not-the-token-" + "z" * 32)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#status")).to_contain_text("token was refused")

        page.get_by_label("Administrator token").fill(ADMIN_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Active thresholds")).to_be_visible()
        file_version = page.locator("#active-version").inner_text()
        assert re.fullmatch(r"sha256:[0-9a-f]{12}", file_version)
        assert fire(base) == {"topics": {"tier-2", "steroid-long-term"},
                              "versions": {file_version}}
        tier1 = page.get_by_label("Minimum trial, tier 1")
        expect(tier1).to_have_value("28")
        expect(page.locator('tr[data-row="min_trial_days.tier1"]')).to_contain_text("days")

        # A value breaking a rule gets a message naming the field and the rule.
        tier1.fill("-5")
        page.get_by_role("button", name="Check and preview").click()
        expect(page.locator("#e-min_trial_days\\.tier1")).to_have_text(
            "min_trial_days.tier1: Must be between 14 and 180 (clinical range of the rules)."
        )
        expect(tier1).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_role("button", name="Apply this change")).to_be_disabled()

        # The change, and what it does to the fixtures.
        tier1.fill("180")
        expect(page.locator("#w-min_trial_days\\.tier1")).to_have_text("28 (changed)")
        expect(page.locator("tr.changed")).to_have_count(1)
        expect(page.locator("#e-min_trial_days\\.tier1")).to_have_text("")
        page.screenshot(path=str(SCREENSHOTS / f"admin-edit-{backend}.png"))
        page.get_by_role("button", name="Check and preview").click()
        expect(page.locator("#preview-summary")).to_contain_text(
            "min_trial_days.tier1 28 → 180"
        )
        # Inside the range but past its warn bound: accepted, flagged next to the field.
        expect(page.locator("#x-min_trial_days\\.tier1")).to_contain_text(
            "180 is accepted but unusually high (warning above 56"
        )
        row = page.locator("#preview-table tr", has_text=TIER2_FIXTURE)
        expect(row.locator("td.disappear")).to_have_text("tier-2")
        expect(row.locator("td.appear")).to_have_text("—")
        # The disappearing card as clinicians see it (the cards' renderer and stylesheet,
        # under the page's strict CSP: the colour bar proves the stylesheet applied).
        drawn = page.locator("#preview-table tr.preview-cards", has_text=f"of {TIER2_FIXTURE} ")
        drawn.get_by_text(f"The card of {TIER2_FIXTURE} as clinicians see it").click()
        card = drawn.locator('article.cds-card[data-topic="tier-2"]')
        expect(card).to_be_visible()
        expect(drawn.locator(".card-caption.disappear")).to_have_text(
            "Disappears (as shown now): tier-2")
        expect(card.locator(".cds-card__indicator")).to_have_text("Info")
        expect(card.locator(".cds-card__reasons li").first).to_be_visible()
        assert card.evaluate("node => getComputedStyle(node).borderLeftWidth") == "8px"
        card.screenshot(path=str(SCREENSHOTS / f"admin-preview-card-{backend}.png"))
        # Nothing changed yet.
        assert fire(base)["versions"] == {file_version}
        page.screenshot(path=str(SCREENSHOTS / f"admin-preview-{backend}.png"), full_page=True)

        apply_button = page.get_by_role("button", name="Apply this change")
        expect(apply_button).to_be_enabled()
        apply_button.click()  # without a name and reason: refused, nothing stored
        expect(page.locator("#status")).to_contain_text("author")
        page.get_by_label("Your name (recorded with the change)").fill("Dr Ada Admin")
        page.get_by_label("Reason for the change (recorded)").fill(
            "Governance committee: longer first-line trial"
        )
        apply_button.click()
        expect(page.locator("#status")).to_contain_text("Applied: version v2.")
        applied = page.locator("#active-version").inner_text()
        assert applied.startswith("v2.sha256:") and applied != file_version
        expect(tier1).to_have_value("180")
        assert fire(base) == {"topics": {"steroid-long-term"}, "versions": {applied}}

        history = page.locator("#history-table tbody tr")
        expect(history).to_have_count(2)
        expect(history.first).to_contain_text("Dr Ada Admin")
        expect(history.first).to_contain_text("min_trial_days.tier1 28 → 180")
        expect(history.nth(1)).to_contain_text("values of the thresholds file")
        page.screenshot(path=str(SCREENSHOTS / f"admin-applied-{backend}.png"), full_page=True)
        page.get_by_role("heading", name="History").locator("..").screenshot(
            path=str(SCREENSHOTS / f"admin-history-{backend}.png")
        )

        # Roll back to version 1 (the file's values), recorded as version 3.
        page.get_by_label("Reason for a rollback (recorded)").fill("Too many cards lost")
        page.get_by_role("button", name="Roll back to version 1").click()
        expect(page.locator("#status")).to_contain_text("Rolled back: version v3.")
        rolled = page.locator("#active-version").inner_text()
        assert rolled == "v3." + file_version
        expect(tier1).to_have_value("28")
        expect(history).to_have_count(3)
        expect(history.first).to_contain_text("rollback to 1")
        assert fire(base) == {"topics": {"tier-2", "steroid-long-term"}, "versions": {rolled}}

        # Signing out forgets the token.
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('mcasAdminToken')") is None
