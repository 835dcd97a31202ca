"""Bad input and failing parts during a launch: a page saying what happened, the right
status, no stack trace, nothing secret or personal in the logs, a reason in /metrics.

Driven like the launch itself (headless Chromium, the real authorization server, the
FHIR front and sekmet-fhir); the front's switches make the EHR's side fail.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from tests.support.browser import chromium
from tests.support.timeline_rig import Rig

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, rig: Rig) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    yield context.new_page()
    context.close()
    rig.front.discovery_overrides.clear()
    rig.front.fail_status = None


@pytest.fixture(autouse=True)
def _no_secrets_logged(rig: Rig, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        if record.name == "werkzeug":  # the test servers' request lines
            continue
        text = record.getMessage() + " " + repr(record.__dict__)
        assert "eyJ" not in text, record.name
        assert "Traceback" not in text, record.name
        for patient in rig.patients.values():
            assert patient not in text, record.name


def _failure_count(rig: Rig, reason: str) -> float:
    text = rig.app.test_client().get("/metrics").get_data(as_text=True)
    found = re.search(rf'mcas_timeline_failures_total{{reason="{reason}"}} ([0-9.]+)', text)
    return float(found.group(1)) if found else 0.0


def _expect_page(page: Any, response: Any, status: int, words: str) -> None:
    assert response is not None and response.status == status, (
        response.status if response else None, page.content())
    body = page.text_content("main") or ""
    assert words in body, body
    assert "Traceback" not in page.content()
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_opened_without_a_launch_says_launch_it_from_the_ehr(rig: Rig, page: Any) -> None:
    before = _failure_count(rig, "missing_launch")
    response = page.goto(f"{rig.app_url}/timeline/launch")
    _expect_page(page, response, 400, "opens from a patient's chart in the EHR")
    assert page.title() == "MCAS timeline: launch from your EHR"
    assert _failure_count(rig, "missing_launch") == before + 1


def test_launch_without_iss(rig: Rig, page: Any) -> None:
    response = page.goto(f"{rig.app_url}/timeline/launch?launch=launch-tier2")
    _expect_page(page, response, 400, "no valid `iss`")


def test_iss_not_allowed_is_refused_before_anything_is_sent(rig: Rig, page: Any) -> None:
    before = _failure_count(rig, "iss_not_allowed")
    response = page.goto(
        f"{rig.app_url}/timeline/launch?launch=launch-tier2&iss=https://attacker.example/fhir")
    _expect_page(page, response, 403, "not among the servers this service may read")
    assert _failure_count(rig, "iss_not_allowed") == before + 1


def test_discovery_without_s256_is_refused(rig: Rig, page: Any) -> None:
    rig.front.discovery_overrides["code_challenge_methods_supported"] = ["plain"]
    response = page.goto(rig.launch_url("launch-tier2"))
    _expect_page(page, response, 502, "PKCE with S256")


def test_discovery_unreachable(rig: Rig, page: Any, refused_port: int) -> None:
    dead = f"http://127.0.0.1:{refused_port}/fhir"
    allowed = rig.app.config["FHIR_ALLOWED_SERVERS"]
    rig.app.config["FHIR_ALLOWED_SERVERS"] = [*allowed, dead]
    try:
        response = page.goto(
            f"{rig.app_url}/timeline/launch?launch=launch-tier2&iss={dead}")
    finally:
        rig.app.config["FHIR_ALLOWED_SERVERS"] = allowed
    _expect_page(page, response, 502, "SMART configuration could not be read")


def test_unknown_launch_is_denied_by_the_authorization_server(rig: Rig, page: Any) -> None:
    page.goto(rig.launch_url("no-such-launch"))
    page.wait_for_url(re.compile(r".*/timeline/callback.*"))
    assert "did not authorise the app (access_denied)" in (page.text_content("main") or "")


def test_state_mismatch(rig: Rig, page: Any) -> None:
    before = _failure_count(rig, "state_mismatch")
    response = page.goto(f"{rig.app_url}/timeline/callback?code=stolen&state=forged")
    _expect_page(page, response, 400, "does not belong to a launch begun in this browser")
    assert _failure_count(rig, "state_mismatch") == before + 1


def _callback_url_reached_by_another_client(rig: Rig, launch: str) -> str:
    """The callback URL (code + state) of a launch another client began and authorised."""
    with requests.Session() as other:
        other.trust_env = False
        url = rig.launch_url(launch)
        for _ in range(12):
            response = other.get(url, allow_redirects=False, timeout=10)
            location = response.headers.get("Location", "")
            if location.startswith(f"{rig.app_url}/timeline/callback"):
                return location
            assert response.is_redirect, (response.status_code, response.text[:200])
            url = urljoin(url, location)
    raise AssertionError("the authorization server did not redirect back")


def test_state_from_another_browser_is_refused(rig: Rig, page: Any) -> None:
    """A launch begun in one browser cannot be finished in another (login CSRF)."""
    callback = _callback_url_reached_by_another_client(rig, "launch-tier2")
    response = page.goto(callback)
    _expect_page(page, response, 400, "does not belong to a launch begun in this browser")
    # ... and the state was spent: the rightful browser cannot use it afterwards either.
    assert not [c for c in page.context.cookies() if c["path"] == "/timeline"]


def test_token_without_a_patient(rig: Rig, page: Any) -> None:
    before = _failure_count(rig, "no_patient")
    page.goto(rig.launch_url("launch-no-patient"))
    page.wait_for_url(re.compile(r".*/timeline/callback.*"))
    assert "without a patient in context" in (page.text_content("main") or "")
    assert _failure_count(rig, "no_patient") == before + 1
    cookies = [c for c in page.context.cookies() if c["path"] == "/timeline"]
    assert cookies == []


def test_token_endpoint_down(rig: Rig, page: Any, refused_port: int) -> None:
    rig.front.discovery_overrides["token_endpoint"] = f"http://127.0.0.1:{refused_port}/token"
    page.goto(rig.launch_url("launch-tier2"))
    page.wait_for_url(re.compile(r".*/timeline/callback.*"))
    assert "could not be reached" in (page.text_content("main") or "")


class _SlowToken(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        time.sleep(4)  # longer than TIMELINE_HTTP_TIMEOUT (2 s)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def test_token_endpoint_slow(rig: Rig, page: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowToken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rig.front.discovery_overrides["token_endpoint"] = (
            f"http://127.0.0.1:{server.server_port}/token")
        started = time.monotonic()
        page.goto(rig.launch_url("launch-tier2"))
        page.wait_for_url(re.compile(r".*/timeline/callback.*"))
        assert "did not answer in time" in (page.text_content("main") or "")
        assert time.monotonic() - started < 15
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.mark.parametrize(("status", "words", "reason"), [
    (401, "refused to share this patient's record", "fhir_401"),
    (403, "refused to share this patient's record", "fhir_403"),
    (500, "could not be read from the EHR's FHIR server", "fhir_unavailable"),
])
def test_fhir_server_refusing_or_failing(
    rig: Rig, page: Any, status: int, words: str, reason: str
) -> None:
    page.goto(rig.launch_url("launch-tier2"))
    page.wait_for_url(f"{rig.app_url}/timeline/")
    before = _failure_count(rig, reason)
    rig.front.fail_status = status
    response = page.reload()
    _expect_page(page, response, 502, words)
    assert _failure_count(rig, reason) == before + 1


def test_no_session_says_launch_again(rig: Rig, page: Any) -> None:
    response = page.goto(f"{rig.app_url}/timeline/")
    _expect_page(page, response, 401, "Launch the timeline again from the patient's chart")


def test_the_front_refuses_a_missing_or_forged_bearer_token(rig: Rig) -> None:
    """The only stand-in is no open door: without a token the auth server signed for this
    FHIR base URL, nothing reaches sekmet-fhir."""
    import jwt as pyjwt

    url = f"{rig.front.base_url}/Condition?patient={rig.patients['tier2']}"
    forged = pyjwt.encode({"aud": rig.front.base_url, "iss": rig.auth.issuer,
                           "patient": rig.patients["tier2"], "exp": 4_102_444_800},
                          "not-the-servers-key-0123456789abcdef", algorithm="HS256")
    before = rig.front.forwarded
    with requests.Session() as http:
        http.trust_env = False
        assert http.get(url, timeout=10).status_code == 401
        assert http.get(url, headers={"Authorization": f"Bearer {forged}"},
                        timeout=10).status_code == 401
    assert rig.front.forwarded == before
