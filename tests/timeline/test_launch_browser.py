"""The full SMART EHR launch in headless Chromium against the real authorization server
(oidc-provider), the FHIR front and the real FHIR server (sekmet-fhir):
launch -> authorize -> token -> picture, for a tier-2 and a tier-4 fixture patient.

The picture must show what the hook decides for the same fixture: the cards, the counted
anaphylaxis episodes, the ladder card's therapies, the current tier and the thresholds
version. The hook is fired with the fixture's prefetch; the picture reads the same
resources from the FHIR server with the launch's token.

MCAS_TIMELINE_SCREENSHOTS=<dir> also saves a screenshot of each picture there (how the
ones in docs/timeline/ were taken).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.pipeline.facts import extract_facts
from service.pipeline.prefetch import prefetch_templates, resolve_prefetch
from service.pipeline.rules import evaluate
from service.pipeline.rules.episodes import episodes, respiratory
from service.pipeline.rules.ladder import position
from service.pipeline.rules.model import day
from service.pipeline.rules.timeline import present, with_courses
from service.storage.models import timeline_sessions
from service.timeline.sealing import SecretBox
from tests.support.browser import chromium
from tests.support.timeline_rig import NOW, SECRET_KEY, Rig

pytestmark = [pytest.mark.integration, pytest.mark.browser]

HOOK = "/cds-services/mcas-therapy-tier"


def _hook(rig: Rig, name: str) -> list[dict[str, Any]]:
    response = rig.app.test_client().post(HOOK, json=rig.requests[name])
    assert response.status_code == 200, response.get_data(as_text=True)
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    return cards


def _decisions(rig: Rig, name: str) -> tuple[Any, Any]:
    state = rig.app.extensions["mcas"]
    knowledge, thresholds = state.knowledge, state.thresholds()
    request = rig.requests[name]
    facts = extract_facts(
        resolve_prefetch(request["prefetch"], prefetch_templates(knowledge)),
        knowledge, request["context"]["patientId"],
    )
    current = with_courses(present(facts, NOW), thresholds)
    pos = position(current, episodes(current, thresholds), respiratory(current, thresholds),
                   thresholds, NOW)
    return evaluate(facts, thresholds, NOW), pos


def _stored_access_tokens(rig: Rig) -> list[str]:
    engine = rig.app.extensions["mcas_storage"].engine()
    box = SecretBox(SECRET_KEY)
    with engine.connect() as connection:
        rows = connection.execute(select(timeline_sessions.c.secret_json)).all()
    opened = [box.open(row.secret_json) for row in rows]
    return [str(data["access_token"]) for data in opened if data]


@pytest.mark.parametrize(("name", "tier"), [("tier2", 2), ("tier4", 4)])
def test_ehr_launch_shows_what_the_cards_say(
    rig: Rig, name: str, tier: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cards = _hook(rig, name)
    decisions, pos = _decisions(rig, name)
    assert pos.current_tier == tier
    topics = [c["source"]["topic"]["code"] for c in cards]
    assert topics == [d.topic for d in decisions]
    ladder = decisions[0]
    # Every patient-view card carries the timeline's smart link.
    for card in cards:
        assert {"label": "MCAS timeline", "type": "smart",
                "url": "http://localhost/timeline/launch"} in card["links"]

    csp_violations: list[str] = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1024, "height": 900})
        page = context.new_page()
        page.on("console", lambda m: csp_violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        visited: list[str] = []
        page.on("request", lambda r: visited.append(r.url))
        page.goto(rig.launch_url(f"launch-{name}"))
        page.wait_for_url(f"{rig.app_url}/timeline/")
        assert page.title() == "MCAS timeline"
        assert page.text_content("#card-topics") == ", ".join(topics)
        assert page.text_content("#counted-episodes") == str(len(ladder.episodes))
        assert page.text_content("#counted-episodes") == str(len(pos.episodes))
        assert page.text_content("#thresholds-version") == (
            cards[0]["extension"]["org.mcas-cds.thresholds-version"])
        summary = page.text_content("section.summary") or ""
        assert f"Tier {tier}:" in summary
        table = page.text_content("#timeline-table") or ""
        for cluster in ladder.episodes:
            row = page.locator("#timeline-table tr", has_text=day(cluster.start)).filter(
                has_text="Counted:")
            assert row.count() >= 1, (day(cluster.start), table)
        for therapy in ladder.therapies:
            assert therapy.label in table
        # The picture: inline SVG, labelled, with hover text on the marks.
        svg = page.locator("svg.timeline-svg")
        assert svg.count() == 1
        assert svg.get_attribute("role") == "img"
        assert page.locator("svg.timeline-svg .tip > title").count() >= len(ladder.episodes)
        # Strict CSP kept: no script, nothing blocked.
        assert page.locator("script").count() == 0
        assert csp_violations == []
        # The token stays on the server: one opaque HttpOnly, Secure, Lax cookie.
        # (Cookies do not tell ports apart: the authorization server's own, on the same
        # loopback host, are left aside by their path.)
        cookies = {c["name"]: c for c in context.cookies() if c["path"] == "/timeline"}
        assert set(cookies) == {"mcas_timeline"}
        session = cookies["mcas_timeline"]
        assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax"
        assert "eyJ" not in page.content()
        assert page.evaluate("() => window.localStorage.length + "
                             "window.sessionStorage.length") == 0
        # Usable at 1024 px: no horizontal scrolling.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1024
        shots = os.environ.get("MCAS_TIMELINE_SCREENSHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / f"timeline-{name}.png"), full_page=True)
        browser_cookies = [c["value"] for c in context.cookies()]
        context.close()
    assert rig.front.refused == 0 and rig.front.forwarded > 0
    # The access token never reached the browser: not in a URL it requested, a cookie or
    # the page (it is read back here from the service's database, where it is sealed).
    tokens = _stored_access_tokens(rig)
    assert tokens
    for token in tokens:
        assert not any(token in url for url in visited)
        assert not any(token in value for value in browser_cookies)
    assert not any(rig.patients[name] in url for url in visited)
    patient = rig.patients[name]
    # The service's logs and those of the libraries it calls; werkzeug's are the test
    # servers' request lines (in production gunicorn logs the path without its query).
    for record in caplog.records:
        if record.name == "werkzeug":
            continue
        text = record.getMessage() + " " + repr(record.__dict__)
        assert patient not in text, record.name
        assert "eyJ" not in text, record.name
