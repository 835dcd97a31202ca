"""Every scenario of fhir_fixtures/ fired through the HTTP endpoint, dates shifted to "now".

Each answer must have the fixture's status and exactly its topics, hold the CDS Hooks 2.0
response schema (service/cdshooks/schemas), and keep the safety invariants of
docs/clinical-rules.md §4, §5 on every card. The service's clock is frozen at the instant
the dates were shifted to, so boundary scenarios ("exactly 28 days") mean exactly what
they say.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.knowledge.loader import bundled_cards_dir, load_knowledge
from service.scenarios.fixtures import Fixture, iter_fixtures, request_for
from tests.support.scenarios import KNOWN_TOPICS, ORDER_TOPICS, PREFETCH_KEYS
from tests.support.schemas import response_validator

FIXTURES = list(iter_fixtures())
SCHEMA = response_validator()
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

# Fixtures on which the implementation disagrees with docs/clinical-rules.md (see the final
# report of the fixtures work): fixture name -> the bug. Strict: when the bug is fixed, the
# xfail fails and the entry must go.
KNOWN_BUGS: dict[str, str] = {}

# docs/clinical-rules.md §5: suggestions only for H1, H2, leukotriene modifiers, oral cromolyn, the
# epinephrine auto-injector and albuterol, by ingredient RxNorm code (knowledge.md).
SUGGESTIBLE_INGREDIENTS = frozenset(
    {
        "20610", "356887", "28889", "275635", "87636", "3498", "5553",  # H1
        "4278", "2541", "42319",  # H2 (never ranitidine 9143)
        "88249", "114970", "40575",  # leukotriene modifiers
        "42612",  # cromolyn sodium (oral)
        "3992",  # epinephrine (auto-injector)
        "435", "237159",  # albuterol, levalbuterol
    }
)
KNOWLEDGE = load_knowledge(bundled_cards_dir())
# Topics that propose something: a drug, a referral, mediator tests, the ranitidine switch.
SUGGESTING_TOPICS = frozenset(
    name for name, topic in KNOWLEDGE.cards.topics.items() if topic.suggestions or topic.drafts
)
# docs/clinical-rules.md §5: mediator tests with the V2 LOINC codes of knowledge.md.
MEDIATOR_TEST_LOINCS = frozenset({"21582-2", "44340-8", "13781-0", "33343-5", "94381-1",
                                  "97658-9"})
# Nothing meant for operators in a card's text (docs/clinical-rules.md §5): no setting
# names, no threshold names, no version hashes.
OPERATOR_WORDS = re.compile(
    r"MCAS_[A-Z_]+|sha256|thresholds-version|\b[a-z]+_[a-z_]+(days|hours|episodes|events|"
    r"weeks|thresholds)\b|\(thresholds ",
)
TIER_JARGON = re.compile(r"\btier[\s-]*\d", re.IGNORECASE)
# Never a one-click order (docs/clinical-rules.md §5, knowledge.md): ranitidine,
# omalizumab, dupilumab, systemic steroids, by name and by every RxNorm code knowledge.md
# gives them.
FORBIDDEN_WORDS = re.compile(
    r"\b(ranitidine|zantac|omalizumab|xolair|dupilumab|dupixent|prednisone|prednisolone|"
    r"methylprednisolone|medrol|dexamethasone)\b",
    re.IGNORECASE,
)
FORBIDDEN_CODES = frozenset({"9143", "302379", "1876376", "1876366", "8640", "8638", "6902",
                             "3264", "312617"})
WARNING_TOPICS = frozenset(
    {"epinephrine-autoinjector", "aspirin-caution", "steroid-long-term", "ranitidine-switch",
     "order-trigger-drug", "order-beta-blocker", "order-aspirin", "order-ranitidine",
     "order-steroid-course"}
)
# Order time (docs/clinical-rules.md §7): the per-topic override reasons, and the one topic
# whose suggestion changes an order (replace the ranitidine draft by a famotidine draft).
ORDER_OVERRIDE_REASONS = frozenset(
    {"benefit-outweighs-risk", "premedicated", "tolerated-before", "not-applicable"})
FAMOTIDINE = "4278"
DRAFT_ORDER = "org.mcas-cds.draft-order"  # extension: the draft order an order card judged
# knowledge.md's literature table: the only evidence links a card may carry.
EVIDENCE_LINKS = frozenset(
    {
        "https://pubmed.ncbi.nlm.nih.gov/31476322/",
        "https://doi.org/10.1159/000328760",
        "https://doi.org/10.1159/000501079",
        "https://pubmed.ncbi.nlm.nih.gov/30737190/",
        "https://doi.org/10.1016/j.jaip.2019.02.002",
        "https://doi.org/10.2500/aap.2025.46.240076",
        "https://pubmed.ncbi.nlm.nih.gov/?term=Treatment+of+idiopathic+anaphylaxis+with+dupilumab",
        # order-time triggers (knowledge.md "Literature for triggers")
        "https://pubs.asahq.org/anesthesiology/article/120/3/753/13713/Perioperative-Management-of-Patients-with",
        "https://doi.org/10.2165/00002018-199512050-00002",
        "https://doi.org/10.1007/s11882-008-0008-8",
        "https://doi.org/10.1016/0091-6749(81)90170-6",
        "https://tmsforacure.org/perioperative-management/",
    }
)
UNAVAILABLE_WORDING = re.compile(
    r"unavailable|not available|could not be (obtained|retrieved|fetched|read)|missing|"
    r"not (sent|received|provided)",
    re.IGNORECASE,
)
# docs/clinical-rules.md §2: every card says how many resources were left out (or
# undated), in clinical words ("1 diagnosis: its onset date could not be read").
LEFT_OUT_WORDING = re.compile(r"could not be read|left out|unreadable|not readable", re.IGNORECASE)
RAW_HTML = re.compile(r"<\s*/?\s*[A-Za-z][A-Za-z0-9]*(\s[^>]*)?>")


def _cases(fixtures: list[Fixture]) -> list[Any]:
    return [
        pytest.param(
            f,
            id=f.name,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[f.name])]
            if f.name in KNOWN_BUGS
            else [],
        )
        for f in fixtures
    ]


def frozen_app(now: datetime) -> Flask:
    # Local-testing mode (no client JWT) set here explicitly, not only through the
    # environment: these apps are module-scoped and built before function fixtures run.
    return create_app({"TESTING": True, "AUTH_DISABLED": True, "CLOCK": lambda: now})


@pytest.fixture(scope="module")
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def frozen_client(now: datetime) -> FlaskClient:
    return frozen_app(now).test_client()


def url_of(fixture: Fixture) -> str:
    """The service of the fixture's hook (order-select/order-sign: mcas-order-safety-*)."""
    return f"/cds-services/{fixture.service_id}"


def fire(client: FlaskClient, fixture: Fixture, now: datetime) -> Any:
    return client.post(url_of(fixture), json=request_for(fixture, now))


def topics_of(body: dict[str, Any]) -> list[str]:
    return [card["source"]["topic"]["code"] for card in body["cards"]]


def check_response(fixture: Fixture, response: Any) -> dict[str, Any]:
    """Status, schema, topics and the per-card safety invariants; returns the body."""
    assert response.status_code == fixture.expected_status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    if fixture.expected_status != 200:
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"] and all(issue.get("diagnostics") for issue in body["issue"])
        return body
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in SCHEMA.iter_errors(body)]
    assert errors == []
    topics = topics_of(body)
    # Patient-view: each topic once. Order time: once per draft order (its extension).
    per_card = [
        (card["source"]["topic"]["code"], card.get("extension", {}).get(DRAFT_ORDER))
        for card in body["cards"]
    ]
    assert len(per_card) == len(set(per_card)), f"a topic twice: {topics}"
    assert set(topics) == fixture.expected_topics
    assert not set(topics) & fixture.absent_topics
    for folded in fixture.folded_topics:  # folded into the ladder card (docs/clinical-rules.md §4)
        title = KNOWLEDGE.cards.topics[folded].title
        assert f"**{title}**" in body["cards"][0]["detail"], f"{folded} folded into the ladder"
    ladder = {"tier-1", "tier-2", "confirm-before-biologic", "tier-3", "omalizumab-dose",
              "tier-4", "specialist-referral"}
    assert len(set(topics) & ladder) <= 1, "at most one ladder card (docs/clinical-rules.md §4)"
    systems = {card["source"]["topic"]["system"] for card in body["cards"]}
    assert len(systems) <= 1, "one topic code system for every card"
    uuids = [card["uuid"] for card in body["cards"]]
    assert len(set(uuids)) == len(uuids)
    patient_id = fixture.request["context"]["patientId"]
    for card in body["cards"]:
        check_card(card, patient_id, fixture)
    return body


def check_card(card: dict[str, Any], patient_id: str, fixture: Fixture) -> None:
    topic = card["source"]["topic"]["code"]
    assert topic in KNOWN_TOPICS
    uuid.UUID(card["uuid"])
    expected_indicator = fixture.indicators.get(
        topic, "warning" if topic in WARNING_TOPICS else "info")
    assert card["indicator"] == expected_indicator, topic
    assert len(card["summary"]) < 140
    if topic in ORDER_TOPICS:
        check_order_card(card, patient_id, fixture)
        return
    detail = card.get("detail", "")
    text = f"{card['summary']}\n{detail}"
    assert detail, "detail shows why (docs/clinical-rules.md §5)"
    assert not RAW_HTML.search(detail), "plain Markdown, no raw HTML (docs/clinical-rules.md §5)"
    assert re.search(r"decision support", detail, re.IGNORECASE), "decision-support reminder"
    assert detail.startswith("**Strength of evidence: "), "opens with the evidence strength"
    check_wording(card)
    check_override_reasons(card)
    links = card.get("links") or []
    assert links, "evidence links (docs/clinical-rules.md §5)"
    for link in links:
        assert link["type"] == "absolute"
        assert link["url"] in EVIDENCE_LINKS, link["url"]
    if topic == "tier-4":
        assert re.search(r"off-label", text, re.IGNORECASE)
        assert re.search(r"case report", text, re.IGNORECASE)
    if topic == "epinephrine-autoinjector":
        assert "0.15" in text and "0.3" in text, "epinephrine dose depends on weight"
    if topic not in SUGGESTING_TOPICS:
        assert "suggestions" not in card, f"{topic} gives links and a referral, no order"
    codes_per_suggestion = [
        check_suggestion(suggestion, patient_id) for suggestion in card.get("suggestions", ())
    ]
    if topic in fixture.suggests:
        groups = fixture.suggests[topic]
        suggested = set().union(*codes_per_suggestion)
        assert suggested <= set().union(*groups), f"{topic} suggests {sorted(suggested)}"
        for group in groups:
            assert suggested & group, f"{topic} suggests none of {sorted(group)}"
    if topic in fixture.first_suggestion:
        assert codes_per_suggestion and codes_per_suggestion[0] & fixture.first_suggestion[topic]
    mentions = [*fixture.mentions.get(topic, ())]
    if topic in LADDER:  # a folded topic's facts are in the ladder card
        mentions += [p for t in fixture.folded_topics for p in fixture.mentions.get(t, ())]
    for pattern in mentions:
        assert re.search(pattern, text, re.IGNORECASE), f"{topic} card should mention {pattern}"
    if fixture.unavailable_keys:
        assert UNAVAILABLE_WORDING.search(detail), "the card says which data were unavailable"
    if fixture.unreadable:
        assert LEFT_OUT_WORDING.search(detail), "the card says resources were left out"


def check_order_card(card: dict[str, Any], patient_id: str, fixture: Fixture) -> None:
    """An order-time card (docs/clinical-rules.md §5, §7): the evidence strength first,
    the draft order named, per-topic override reasons, evidence links; only the ranitidine
    card suggests a change: create famotidine without a dose, delete the draft by id."""
    topic = card["source"]["topic"]["code"]
    detail = card["detail"]
    assert detail.startswith("**Strength of evidence: "), "the detail opens with the evidence"
    assert not RAW_HTML.search(detail)
    assert re.search(r"decision support", detail, re.IGNORECASE)
    draft = card["extension"]["org.mcas-cds.draft-order"]
    drafts = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
              for e in fixture.request["context"]["draftOrders"]["entry"]}
    assert draft in drafts
    if fixture.hook == "order-select":
        assert draft in fixture.request["context"]["selections"]
    words = drafts[draft]["medicationCodeableConcept"]["text"].split()[0]
    assert card["summary"].lower().startswith(words.lower()), "the order's own words first"
    reasons = {r["code"] for r in card["overrideReasons"]}
    assert reasons and reasons <= ORDER_OVERRIDE_REASONS
    for link in card.get("links") or []:
        assert link["type"] == "absolute" and link["url"] in EVIDENCE_LINKS, link["url"]
    assert card.get("links"), "evidence links"
    for pattern in fixture.mentions.get(topic, ()):
        text = f"{card['summary']}\n{detail}"
        assert re.search(pattern, text, re.IGNORECASE), f"{topic} card should mention {pattern}"
    if topic != "order-ranitidine":
        assert "suggestions" not in card, f"{topic} changes nothing in the order"
        return
    [suggestion] = card["suggestions"]
    check_ranitidine_suggestion(suggestion, draft, patient_id)


def check_ranitidine_suggestion(suggestion: dict[str, Any], draft: str, patient_id: str) -> None:
    """Replace the draft: create famotidine (draft, no dose), delete the draft by its id."""
    uuid.UUID(suggestion["uuid"])
    assert len(suggestion["label"]) <= 60
    assert not FORBIDDEN_WORDS.search(suggestion["label"])
    kinds = {a["type"]: a for a in suggestion["actions"]}
    assert sorted(kinds) == ["create", "delete"] and len(suggestion["actions"]) == 2
    assert kinds["delete"]["resourceId"] == draft
    assert "resource" not in kinds["delete"]
    resource = kinds["create"]["resource"]
    assert resource["resourceType"] == "MedicationRequest" and resource["status"] == "draft"
    assert "dosageInstruction" not in resource, "no dose: the prescriber completes it"
    assert resource["subject"]["reference"] == f"Patient/{patient_id}"
    codes = {c["code"] for c in resource["medicationCodeableConcept"]["coding"]
             if c["system"] == RXNORM}
    assert codes == {FAMOTIDINE}
    assert not FORBIDDEN_WORDS.search(json.dumps(resource))
    get_fhir_model_class("MedicationRequest").model_validate(resource)
LADDER = frozenset({"tier-1", "tier-2", "confirm-before-biologic", "tier-3", "omalizumab-dose",
                    "tier-4", "specialist-referral"})


def check_wording(card: dict[str, Any]) -> None:
    """Drugs and facts, no jargon, nothing for operators (docs/clinical-rules.md §5)."""
    summary, detail = card["summary"], card.get("detail", "")
    assert len(summary) < 140
    assert not summary.endswith(" …"), "cut at a word boundary"
    assert not TIER_JARGON.search(summary), summary
    assert not OPERATOR_WORDS.search(summary + "\n" + detail), OPERATOR_WORDS.search(
        summary + "\n" + detail)
    assert "{creat}" not in summary + detail, "clinical units (mcg/g creatinine)"
    assert card["extension"]["org.mcas-cds.rules-version"] == "2"
    assert card["extension"]["org.mcas-cds.thresholds-version"]


def check_override_reasons(card: dict[str, Any]) -> None:
    """Each topic's reasons come from cards/; "patient declined" only when it proposes."""
    topic = card["source"]["topic"]["code"]
    codes = [r["code"] for r in card["overrideReasons"]]
    assert codes, "overrideReasons (docs/clinical-rules.md §5)"
    assert codes == [c for c in KNOWLEDGE.cards.topics[topic].override_reasons
                     if "suggestions" in card
                     or not KNOWLEDGE.cards.override_reasons[c].needs_proposal]
    for reason in card["overrideReasons"]:
        assert reason["system"] == KNOWLEDGE.cards.override_reason_system
        assert reason["display"] == KNOWLEDGE.cards.override_reasons[reason["code"]].display
    if "patient-declined" in codes:
        assert card.get("suggestions"), f"{topic}: 'patient declined' on a card proposing nothing"


def _draft_checks(resource: dict[str, Any], patient_id: str) -> None:
    assert resource["status"] == "draft"
    assert resource["intent"] == "proposal"
    assert "dosageInstruction" not in resource, "no dose: the prescriber completes it"
    assert resource["subject"]["reference"] == f"Patient/{patient_id}"


def check_suggestion(suggestion: dict[str, Any], patient_id: str) -> set[str]:
    """The safety invariants of one suggestion; returns the RxNorm codes it proposes."""
    uuid.UUID(suggestion["uuid"])
    assert len(suggestion["label"]) <= 60, suggestion["label"]
    assert suggestion.get("actions")
    stops = [a for a in suggestion["actions"] if a["type"] == "update"]
    if not stops:
        assert not FORBIDDEN_WORDS.search(suggestion["label"]), suggestion["label"]
    proposed: set[str] = set()
    for action in suggestion["actions"]:
        resource = action["resource"]
        if action["type"] == "update":
            # the ranitidine switch: the ranitidine order, by its id, set to stopped
            assert resource["resourceType"] == "MedicationRequest" and resource["id"]
            assert resource["status"] == "stopped"
            codes = {c["code"] for c in resource["medicationCodeableConcept"]["coding"]}
            assert codes == {"9143"}
            get_fhir_model_class("MedicationRequest").model_validate(resource)
            continue
        assert action["type"] == "create"
        dumped = json.dumps(resource)
        assert not FORBIDDEN_WORDS.search(dumped + action["description"]), dumped
        _draft_checks(resource, patient_id)
        if resource["resourceType"] == "ServiceRequest":
            code = resource["code"]
            loincs = {c["code"] for c in code.get("coding", []) if c["system"] == "http://loinc.org"}
            if loincs:
                assert loincs <= MEDIATOR_TEST_LOINCS
                assert resource["patientInstruction"] and resource["note"]
            else:
                assert code["text"] == "Referral to allergy and immunology"
            get_fhir_model_class("ServiceRequest").model_validate(resource)
            continue
        assert resource["resourceType"] == "MedicationRequest"
        concept = resource["medicationCodeableConcept"]
        assert concept.get("text")
        codes = {c["code"] for c in concept["coding"] if c["system"] == RXNORM}
        assert codes and codes <= SUGGESTIBLE_INGREDIENTS, codes
        assert not codes & FORBIDDEN_CODES
        get_fhir_model_class("MedicationRequest").model_validate(resource)
        proposed |= codes
    return proposed


@pytest.mark.parametrize("fixture", _cases(FIXTURES))
def test_fixture_fired_now(frozen_client: FlaskClient, fixture: Fixture, now: datetime) -> None:
    check_response(fixture, fire(frozen_client, fixture, now))


# Two other "now"s, one before the fixtures were written (and on a leap day), one years
# later: a fixture means the same on any day.
OTHER_NOWS = (
    datetime(2024, 2, 29, 5, 17, 42, tzinfo=UTC),
    datetime(2031, 7, 1, 23, 59, 59, tzinfo=UTC),
)


@pytest.fixture(scope="module")
def other_clients() -> list[tuple[datetime, FlaskClient]]:
    return [(moment, frozen_app(moment).test_client()) for moment in OTHER_NOWS]


@pytest.mark.parametrize("fixture", _cases(FIXTURES))
def test_fixture_means_the_same_on_any_day(
    other_clients: list[tuple[datetime, FlaskClient]], fixture: Fixture
) -> None:
    answers: list[tuple[int, frozenset[str]]] = []
    for moment, client in other_clients:
        response = fire(client, fixture, moment)
        body = check_response(fixture, response)
        answers.append(
            (response.status_code, frozenset(topics_of(body)) if "cards" in body else frozenset())
        )
    assert len(set(answers)) == 1


def test_shifted_requests_differ_but_answers_agree(
    frozen_client: FlaskClient, now: datetime
) -> None:
    """The shift really moves dates (so the test above is not vacuous)."""
    fixture = next(f for f in FIXTURES if f.name == "tier-2--fires--trial-exactly-28-days")
    early = request_for(fixture, OTHER_NOWS[0])
    late = request_for(fixture, OTHER_NOWS[1])
    assert early["prefetch"] != late["prefetch"]
    assert early["hookInstance"] != late["hookInstance"]


def test_fixtures_use_the_discovery_prefetch_keys(frozen_client: FlaskClient) -> None:
    """The scenarios prefetch exactly what the service asks EHRs for (issue 2 interface);
    the order-time services ask for the same keys (issue 15)."""
    services = frozen_client.get("/cds-services").get_json()["services"]
    assert [s["id"] for s in services] == [
        "mcas-therapy-tier", "mcas-order-safety-select", "mcas-order-safety-sign"]
    for service in services:
        assert set(service["prefetch"]) == PREFETCH_KEYS
        assert service["prefetch"] == services[0]["prefetch"]


def test_fixtures_also_hold_at_their_own_evaluation_instant() -> None:
    """Unshifted requests with the clock at evaluatedAt: the files are right as written."""
    evaluated = {f.evaluated_at for f in FIXTURES}
    for moment in evaluated:
        client = frozen_app(moment).test_client()
        for fixture in FIXTURES:
            if fixture.evaluated_at != moment or fixture.name in KNOWN_BUGS:
                continue
            request = dict(fixture.request)
            check_response(fixture, client.post(url_of(fixture), json=request))
