"""The timeline's pieces without servers: settings, the session store, the picture, the
card link, the default scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from service import create_app
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.pipeline.prefetch import prefetch_templates, resolve_prefetch
from service.scenarios.fixtures import FIXTURES_DIR, find_fixture, request_for
from service.settings import SettingError
from service.storage.migrate import upgrade
from service.storage.models import timeline_launches, timeline_sessions
from service.thresholds.files import load_thresholds
from service.timeline.course import judge
from service.timeline.picture import render_svg, rows
from service.timeline.sealing import SecretBox
from service.timeline.store import TimelineStore
from service.web.timeline import default_scopes
from tests.support.timeline_rig import SECRET_KEY, timeline_config

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
HOOK = "/cds-services/mcas-therapy-tier"


@pytest.fixture
def store(tmp_path: Path) -> TimelineStore:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    return TimelineStore(lambda: engine, SecretBox(SECRET_KEY))


def _count(store: TimelineStore, table: Any) -> int:
    with store._engine().connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_enabled_without_a_secret_key_does_not_start() -> None:
    config = timeline_config(["http://127.0.0.1:1/fhir"])
    del config["SECRET_KEY"]
    with pytest.raises(SettingError, match="MCAS_SECRET_KEY"):
        create_app(config)


def test_enabled_without_a_client_id_does_not_start() -> None:
    config = timeline_config(["http://127.0.0.1:1/fhir"], TIMELINE_CLIENT_ID=None)
    with pytest.raises(SettingError, match="MCAS_TIMELINE_CLIENT_ID"):
        create_app(config)


def test_off_by_default_no_routes_and_no_card_link(sandbox_hook: dict[str, Any]) -> None:
    app = create_app({"TESTING": True, "RECORD_CARDS": False})
    client = app.test_client()
    assert client.get("/timeline/launch").status_code == 404
    cards = client.post(HOOK, json=sandbox_hook["body"]).get_json()["cards"]
    assert cards
    assert all(link["type"] != "smart" for c in cards for link in c.get("links", []))


def test_enabled_every_card_links_the_launch_url(sandbox_hook: dict[str, Any]) -> None:
    app = create_app(timeline_config(["http://127.0.0.1:1/fhir"],
                                     PUBLIC_BASE_URL="https://cds.example.org"))
    cards = app.test_client().post(HOOK, json=sandbox_hook["body"]).get_json()["cards"]
    assert cards
    for card in cards:
        assert {"label": "MCAS timeline", "url": "https://cds.example.org/timeline/launch",
                "type": "smart"} in card["links"]


def test_launch_state_is_taken_once_and_bound_to_the_browser(store: TimelineStore) -> None:
    store.save_launch(state="s1", browser="b1", iss="https://ehr/fhir",
                      token_endpoint="https://ehr/token", code_verifier="v" * 64, now=NOW,
                      lifetime=timedelta(minutes=10))
    with store._engine().connect() as connection:
        row = connection.execute(select(timeline_launches)).one()
    assert "s1" not in row.state_key and "v" * 64 not in row.secret_json  # hashed, sealed
    launch = store.take_launch("s1", NOW + timedelta(minutes=1))
    assert launch is not None and launch.code_verifier == "v" * 64
    assert store.browser_matches(launch, "b1")
    assert not store.browser_matches(launch, "b2")
    assert not store.browser_matches(launch, None)
    assert store.take_launch("s1", NOW + timedelta(minutes=1)) is None  # spent


def test_launch_state_expires(store: TimelineStore) -> None:
    store.save_launch(state="s1", browser="b1", iss="i", token_endpoint="t",
                      code_verifier="v", now=NOW, lifetime=timedelta(minutes=10))
    assert store.take_launch("s1", NOW + timedelta(minutes=10)) is None


# Long enough that the encrypted secret (base64 of random bytes) cannot hold it by chance:
# "p1" did, now and then, and failed the test.
PATIENT = "mcas-test-timeline-patient-0001"


def test_sessions_expire_and_are_purged(store: TimelineStore) -> None:
    cookie = store.create_session(iss="https://ehr/fhir", patient=PATIENT,
                                  access_token="token-1", now=NOW,
                                  expires_at=NOW + timedelta(minutes=60))
    with store._engine().connect() as connection:
        row = connection.execute(select(timeline_sessions)).one()
    assert cookie not in row.session_key and "token-1" not in row.secret_json
    assert PATIENT not in row.secret_json
    session = store.session(cookie, NOW + timedelta(minutes=59))
    assert session is not None and session.access_token == "token-1"
    assert session.patient == PATIENT
    assert store.session(cookie, NOW + timedelta(minutes=60)) is None
    assert store.session("another", NOW) is None
    store.purge(NOW + timedelta(minutes=61))
    assert _count(store, timeline_sessions) == 0


def test_another_secret_reads_no_session(store: TimelineStore) -> None:
    cookie = store.create_session(iss="i", patient="p", access_token="t", now=NOW,
                                  expires_at=NOW + timedelta(hours=1))
    other = TimelineStore(store._engine, SecretBox("another-secret-key-0123456789abcdefgh"))
    assert other.session(cookie, NOW) is None


def test_secret_key_too_short() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        SecretBox("short")


def test_default_scopes_are_what_the_hooks_read() -> None:
    knowledge = load_knowledge(Path(bundled_cards_dir()))
    scopes = default_scopes(dict(prefetch_templates(knowledge))).split()
    assert scopes[:3] == ["launch", "openid", "fhirUser"]
    assert {"patient/Condition.rs", "patient/Observation.rs",
            "patient/MedicationRequest.rs", "patient/MedicationStatement.rs"} <= set(scopes)
    assert all(s.endswith(".rs") for s in scopes[3:])


@pytest.fixture(scope="module")
def tier4_course() -> Any:
    cards = Path(bundled_cards_dir())
    knowledge = load_knowledge(cards)
    thresholds = load_thresholds(cards / "thresholds.yaml")
    fixture = find_fixture("specialist-referral--fires--refractory-on-dupilumab", FIXTURES_DIR)
    request = request_for(fixture, NOW)
    resolved = resolve_prefetch(request["prefetch"], prefetch_templates(knowledge))
    return judge(resolved, knowledge, thresholds, NOW, request["context"]["patientId"])


def test_the_svg_keeps_the_strict_csp(tier4_course: Any) -> None:
    svg = render_svg(tier4_course)
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "style=" not in svg and "<style" not in svg and "<script" not in svg
    assert "<metadata" not in svg and "http://" not in svg.split(">", 1)[1].replace(
        "http://www.w3.org", "")
    assert svg.count("<title>") >= 1 + len(tier4_course.marks) + len(tier4_course.therapies)
    # Text stays text (screen readers, search), not glyph outlines.
    assert "Anaphylaxis</text>" in svg


def test_the_table_lists_what_the_picture_shows(tier4_course: Any) -> None:
    table = rows(tier4_course)
    lanes = {r.lane for r in table}
    assert {"Therapies", "Anaphylaxis", "Mediators", "Trial windows"} <= lanes
    assert sum(r.what.startswith("Counted:") for r in table) == tier4_course.counted_episodes
    assert tier4_course.current_tier == 4


def test_the_sandbox_link_shows_the_launch_from_your_ehr_page() -> None:
    """The CDS Hooks Sandbox appends fhirServiceUrl and patientId instead of launch + iss."""
    app = create_app(timeline_config(["http://127.0.0.1:1/fhir"]))
    response = app.test_client().get(
        "/timeline/launch?fhirServiceUrl=https%3A%2F%2Flaunch.smarthealthit.org%2Fv%2Fr4%2Ffhir"
        "&patientId=smart-1288992")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Launch this app from your EHR" in page
    assert "<script" not in page and "style=" not in page
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_without_a_known_public_address_the_launch_says_so_and_cards_have_no_link(
    sandbox_hook: dict[str, Any],
) -> None:
    """With tokens checked, a Host nobody listed never becomes a redirect URI or a link."""
    app = create_app(timeline_config(["http://127.0.0.1:1/fhir"], AUTH_DISABLED=False))
    response = app.test_client().get(
        "/timeline/launch?launch=x&iss=http://127.0.0.1:1/fhir", base_url="http://evil.example")
    assert response.status_code == 503
    assert "MCAS_PUBLIC_BASE_URL" in response.get_data(as_text=True)
    from service.web.timeline import launch_url

    with app.test_request_context("/", base_url="http://evil.example"):
        assert launch_url(app.config) is None
    with app.test_request_context("/", base_url="http://cds.example.org"):
        app.config["ALLOWED_HOSTS"] = "cds.example.org"
        assert launch_url(app.config) == "http://cds.example.org/timeline/launch"


def test_a_tryptase_pair_is_drawn_with_its_20_percent_plus_2_line() -> None:
    cards = Path(bundled_cards_dir())
    knowledge = load_knowledge(cards)
    thresholds = load_thresholds(cards / "thresholds.yaml")
    fixture = find_fixture("mediator-evidence--does-not-fire--tryptase-rise-in-ng-ml",
                           FIXTURES_DIR)
    request = request_for(fixture, NOW)
    resolved = resolve_prefetch(request["prefetch"], prefetch_templates(knowledge))
    course = judge(resolved, knowledge, thresholds, NOW, request["context"]["patientId"])
    assert len(course.tryptase) == 1
    pair = course.tryptase[0]
    assert pair.limit == pytest.approx(1.2 * pair.baseline + 2)
    assert pair.elevated and pair.acute > pair.limit
    svg = render_svg(course)
    assert f"vs 20% + 2 line {pair.limit:.1f} ng/mL" in svg
    assert next(r for r in rows(course) if r.lane == "Tryptase").detail.startswith("elevated")
