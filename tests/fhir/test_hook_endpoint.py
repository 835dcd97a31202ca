"""The FHIR fallback through the hook endpoint: 200 with cards, or 412 naming the key.

SPEC (CDS Hooks 2.0, Prefetch template / HTTP status codes): a service unable to obtain
required data through the prefetch or the FHIR server answers 412 Precondition Failed.

Service requirements: 34, 54.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tests.support.fhir_fallback import hook_body, make_app, sandbox_body
from tests.support.loopback import LoopbackServer, Reply
from tests.support.sekmet_server import TOKEN, SekmetServer

URL = "/cds-services/mcas-therapy-tier"
RECORDED_AT = datetime(2026, 11, 25, 11, 44, 40, tzinfo=UTC)  # the Sandbox recording


def post(allowed: list[str], body: dict[str, Any], **config: Any) -> Any:
    app = make_app(allowed, CLOCK=lambda: RECORDED_AT, **config)
    return app.test_client().post(URL, json=body)


def topics(response: Any) -> list[str]:
    return [card["source"]["topic"]["code"] for card in response.get_json()["cards"]]


def without_uuids(value: Any) -> Any:
    """A response with its random card and suggestion uuids taken out."""
    if isinstance(value, dict):
        return {k: without_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [without_uuids(v) for v in value]
    return value


def assert_412_naming(response: Any, key: str, reason: str) -> None:
    assert response.status_code == 412
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    messages = [issue["diagnostics"] for issue in outcome["issue"]]
    assert any(f"'{key}'" in m and reason in m for m in messages), messages
    assert all(issue["severity"] == "error" for issue in outcome["issue"])
    text = response.get_data(as_text=True)
    assert TOKEN not in text and "mcas-1" not in text and "Hartley" not in text


def test_same_answer_from_the_prefetch_and_from_the_fhir_server(
    fhir_server: SekmetServer,
) -> None:
    from_prefetch = post([], sandbox_body())
    from_server = post([fhir_server.base_url], hook_body(fhir_server.base_url, None))

    assert from_prefetch.status_code == from_server.status_code == 200
    # What the Sandbox README says this patient gets at the recording instant.
    assert topics(from_server) == ["tier-2", "albuterol"]
    assert without_uuids(from_server.get_json()) == without_uuids(from_prefetch.get_json())


def test_some_keys_from_the_prefetch_the_rest_from_the_server(fhir_server: SekmetServer) -> None:
    prefetch = sandbox_body()["prefetch"]
    partial = {k: prefetch[k] for k in ("conditions", "medicationRequests")}
    from_prefetch = post([], sandbox_body())
    mixed = post([fhir_server.base_url], hook_body(fhir_server.base_url, partial))

    assert mixed.status_code == 200
    assert without_uuids(mixed.get_json()) == without_uuids(from_prefetch.get_json())


def test_401_from_the_server_answers_412_with_the_reason(fhir_server: SekmetServer) -> None:
    body = hook_body(fhir_server.base_url, None, token="wrong-token")

    response = post([fhir_server.base_url], body)

    assert_412_naming(response, "conditions", "HTTP 401")
    assert "wrong-token" not in response.get_data(as_text=True)


def test_a_server_that_is_down_answers_412(refused_port: int) -> None:
    base_url = f"http://127.0.0.1:{refused_port}/fhir"

    response = post([base_url], hook_body(base_url, None))

    assert_412_naming(response, "conditions", "could not be reached")


def test_a_server_slower_than_the_deadline_still_gets_an_answer() -> None:
    with LoopbackServer(lambda _: Reply(body={"resourceType": "Bundle"}, delay=5)) as server:
        response = post([server.base_url], hook_body(server.base_url, None), FHIR_DEADLINE=0.5)

    assert_412_naming(response, "conditions", "0.5 s deadline")


def test_a_fhir_server_that_is_not_allowed_gets_412_and_never_the_token() -> None:
    with LoopbackServer() as allowed, LoopbackServer() as stranger:
        response = post([allowed.base_url], hook_body(stranger.base_url, None))

    assert stranger.seen == []
    assert_412_naming(response, "conditions", "MCAS_FHIR_ALLOWED_SERVERS")


def test_without_a_fhir_server_missing_conditions_answer_412() -> None:
    response = post([], hook_body(None, {}, token=None))

    assert_412_naming(response, "conditions", "no FHIR server")


def test_a_full_prefetch_never_touches_the_fhir_server() -> None:
    with LoopbackServer() as server:
        body = sandbox_body()
        body["fhirServer"] = server.base_url
        for key in ("medicationAdministrations", "medicationDispenses"):
            body["prefetch"][key] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
        response = post([server.base_url], body)

    assert response.status_code == 200
    assert server.seen == []


def test_the_optional_keys_are_fetched_and_their_failure_changes_nothing() -> None:
    """docs/clinical-rules.md §2, §6.9: the course keys are fetched like the others; when
    the server fails them they are simply absent: no 412, no card held back."""
    with LoopbackServer(lambda _: Reply(status=500)) as server:
        body = sandbox_body()  # recorded before rules v2: no optional keys
        body["fhirServer"] = server.base_url
        response = post([server.base_url], body)

    fetched = sorted(urlsplit(s.path).path.rsplit("/", 1)[-1] for s in server.seen)
    assert fetched == ["MedicationAdministration", "MedicationDispense"]
    assert response.status_code == 200
    assert sorted(topics(response)) == ["albuterol", "tier-2"]
    for card in response.get_json()["cards"]:
        assert "could not be retrieved" not in card["detail"]


def test_the_412_body_is_json_an_ehr_can_read() -> None:
    response = post([], hook_body(None, {}, token=None))

    assert response.mimetype == "application/json"
    json.loads(response.get_data(as_text=True))


def _scoped_body(fhir_server: SekmetServer, readable: list[str]) -> dict[str, Any]:
    return hook_body(fhir_server.base_url, None, token=fhir_server.scoped_token(readable))


def test_observations_the_server_refuses_suppress_absence_cards_and_are_named(
    fhir_server: SekmetServer,
) -> None:
    readable = ["Patient", "Condition", "MedicationStatement", "MedicationRequest", "Medication"]

    response = post([fhir_server.base_url], _scoped_body(fhir_server, readable))

    assert response.status_code == 200
    assert topics(response) == ["tier-2", "albuterol"]  # nothing here fires on absence
    for card in response.get_json()["cards"]:
        # in clinical words (docs/clinical-rules.md §6.9); the technical reason is logged
        assert "Lab results could not be retrieved" in card["detail"]
        assert "HTTP 403" not in card["detail"]


def test_one_medication_key_refused_hides_the_ladder_and_rescue_cards(
    fhir_server: SekmetServer,
) -> None:
    readable = ["Patient", "Condition", "Observation", "MedicationStatement", "Medication"]

    response = post([fhir_server.base_url], _scoped_body(fhir_server, readable))

    # The current tier is unknown without the requests (docs/clinical-rules.md §6.9): no
    # ladder card, no albuterol; the mediators are elevated, so nothing else applies either.
    assert response.status_code == 200
    assert topics(response) == []


def test_both_medication_keys_refused_answer_412_naming_both(fhir_server: SekmetServer) -> None:
    response = post(
        [fhir_server.base_url], _scoped_body(fhir_server, ["Patient", "Condition", "Observation"])
    )

    assert_412_naming(response, "medicationStatements", "HTTP 403")
    assert_412_naming(response, "medicationRequests", "HTTP 403")
