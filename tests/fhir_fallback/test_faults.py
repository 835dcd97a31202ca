"""Faults a real FHIR server will not produce on demand, from a small loopback server.

Service requirements: 54 (412 when the server cannot be reached), 61 (the token with
each call, and only to the allowed server).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from service.fhir import client as fhir_client
from service.fhir import fetcher_for
from service.pipeline.prefetch import ResolvedPrefetch, prefetch_templates, resolve_prefetch

from .conftest import make_app
from .loopback import LoopbackServer, Reply, Seen
from .sekmet_server import free_port

TOKEN = "loopback-token"

_CONDITION = {
    "resourceType": "Condition",
    "id": "c1",
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "D89.42"}]},
    "subject": {"reference": "Patient/p-1"},
}


def _bundle(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def _templates() -> dict[str, str]:
    return dict(prefetch_templates(make_app([]).extensions["mcas"].knowledge))


def resolve(
    base_url: str,
    *,
    allowed: list[str] | None = None,
    prefetch: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    **config: Any,
) -> ResolvedPrefetch:
    settings = {"FHIR_ALLOWED_SERVERS": [base_url] if allowed is None else allowed, **config}
    fetcher = fetcher_for(base_url, TOKEN, context or {"patientId": "p-1"}, settings)
    return resolve_prefetch(prefetch or {}, _templates(), fetcher)


def test_queries_have_the_sandbox_shape_and_carry_the_token() -> None:
    with LoopbackServer() as server:
        resolve(server.base_url)

    paths = sorted(s.path for s in server.seen)
    assert "/fhir/Patient/p-1" in paths
    assert "/fhir/Condition?patient=p-1" in paths
    assert "/fhir/MedicationRequest?patient=p-1&status=active" in paths
    observation = next(p for p in paths if p.startswith("/fhir/Observation?"))
    # Form-encoded like the Sandbox's: '|' as %7C, ',' as %2C, ':' and '/' encoded,
    # parameters sorted (code before patient).
    query = urlsplit(observation).query
    assert query.startswith("code=http%3A%2F%2Floinc.org%7C21582-2%2C")
    assert query.endswith("&patient=p-1")
    codes = dict(parse_qsl(query))["code"].split(",")
    assert all(code.startswith("http://loinc.org|") for code in codes) and len(codes) == 9
    for seen in server.seen:
        assert seen.headers["authorization"] == f"Bearer {TOKEN}"
        assert "fhir+json" in seen.headers["accept"]


def test_context_values_are_url_encoded_into_the_query() -> None:
    with LoopbackServer() as server:
        resolve(server.base_url, context={"patientId": "a/b?c&d=e"})

    paths = {s.path for s in server.seen}
    assert "/fhir/Patient/a%2Fb%3Fc%26d%3De" in paths
    assert "/fhir/Condition?patient=a%2Fb%3Fc%26d%3De" in paths


def test_the_missing_keys_are_fetched_concurrently() -> None:
    # Each answer waits until all five requests are in flight at once: fetched one after
    # another, the first would wait in vain and every key would fail. No wall-clock bound
    # is asserted; the barrier proves the overlap.
    in_flight = threading.Barrier(5, timeout=20)

    def together(_: Seen) -> Reply:
        try:
            in_flight.wait()
        except threading.BrokenBarrierError:
            return Reply(status=500)
        return Reply(body=_bundle())

    with LoopbackServer(together) as server:
        resolved = resolve(server.base_url, FHIR_DEADLINE=30)

    assert resolved.unavailable == {}
    assert len(server.seen) == 5


def test_a_server_slower_than_the_deadline_makes_the_keys_unavailable() -> None:
    with LoopbackServer(lambda _: Reply(body=_bundle(), delay=3)) as server:
        resolved = resolve(server.base_url, FHIR_DEADLINE=0.3)

    assert resolved.resources == {}
    assert all("0.3 s deadline" in r for r in resolved.unavailable.values())


def test_a_server_that_is_down_is_unavailable() -> None:
    base_url = f"http://127.0.0.1:{free_port()}/fhir"  # nobody listens there
    resolved = resolve(base_url)

    assert resolved.resources == {}
    assert all(r == "the FHIR server could not be reached" for r in resolved.unavailable.values())


@pytest.mark.parametrize("status", [502, 503, 504])
def test_one_retry_after_a_gateway_error(status: int) -> None:
    calls: dict[str, int] = {}

    def flaky(seen: Seen) -> Reply:
        calls[seen.path] = calls.get(seen.path, 0) + 1
        return Reply(status=status) if calls[seen.path] == 1 else Reply(body=_bundle(_CONDITION))

    with LoopbackServer(flaky) as server:
        resolved = resolve(server.base_url)

    assert resolved.unavailable == {}
    assert [r["id"] for r in resolved.resources["conditions"]] == ["c1"]
    assert set(calls.values()) == {2}


def test_only_one_retry() -> None:
    with LoopbackServer(lambda _: Reply(status=503)) as server:
        resolved = resolve(server.base_url)

    assert resolved.unavailable["conditions"] == "the FHIR server answered HTTP 503"
    assert len(server.seen) == 10  # five keys, two tries each


def test_no_retry_after_a_server_error_that_is_not_transient() -> None:
    with LoopbackServer(lambda _: Reply(status=500)) as server:
        resolved = resolve(server.base_url)

    assert resolved.unavailable["conditions"] == "the FHIR server answered HTTP 500"
    assert len(server.seen) == 5


def test_one_retry_after_a_dropped_connection() -> None:
    calls: dict[str, int] = {}

    def dropping(seen: Seen) -> Reply:
        calls[seen.path] = calls.get(seen.path, 0) + 1
        return Reply(drop=True) if calls[seen.path] == 1 else Reply(body=_bundle(_CONDITION))

    with LoopbackServer(dropping) as server:
        resolved = resolve(server.base_url)

    assert resolved.unavailable == {}
    assert set(calls.values()) == {2}


def test_a_fhir_server_that_is_not_allowed_never_receives_anything() -> None:
    with LoopbackServer() as allowed, LoopbackServer() as stranger:
        resolved = resolve(stranger.base_url, allowed=[allowed.base_url])

    assert stranger.seen == [] and allowed.seen == []
    assert resolved.resources == {}
    assert all("MCAS_FHIR_ALLOWED_SERVERS" in r for r in resolved.unavailable.values())


def test_nothing_is_allowed_by_default() -> None:
    with LoopbackServer() as server:
        resolved = resolve(server.base_url, allowed=[])

    assert server.seen == []
    assert set(resolved.unavailable) == set(_templates())


def test_a_redirect_off_the_allowed_host_is_not_followed() -> None:
    with LoopbackServer() as elsewhere:
        target = f"{elsewhere.base_url}/Condition?patient=p-1"
        with LoopbackServer(lambda _: Reply(302, headers={"Location": target})) as server:
            resolved = resolve(server.base_url)

    assert elsewhere.seen == []  # neither the request nor the token went there
    assert resolved.resources == {}
    assert all("redirect (HTTP 302)" in r for r in resolved.unavailable.values())


def test_a_next_link_off_the_allowed_server_is_not_followed() -> None:
    with LoopbackServer() as elsewhere:
        page = _bundle(_CONDITION, next_url=f"{elsewhere.base_url}/Condition?page=2")
        with LoopbackServer(lambda _: Reply(body=page)) as server:
            resolved = resolve(server.base_url)

    assert elsewhere.seen == []
    assert "off the allowed FHIR server" in resolved.unavailable["conditions"]


def test_next_links_that_loop_end() -> None:
    def looping(seen: Seen) -> Reply:
        return Reply(body=_bundle(_CONDITION, next_url=f"http://127.0.0.1:{port}/fhir/x?p=1"))

    with LoopbackServer(looping) as server:
        port = server.port
        resolved = resolve(server.base_url)

    assert "loop" in resolved.unavailable["conditions"]


def test_a_bundle_with_an_error_outcome_entry_from_the_server_is_unavailable() -> None:
    error = {"resourceType": "OperationOutcome", "issue": [{"severity": "fatal", "code": "x"}]}
    warning = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "x"}]}

    def respond(seen: Seen) -> Reply:
        if seen.path.startswith("/fhir/Condition"):
            return Reply(body=_bundle(_CONDITION, warning))
        return Reply(body=_bundle(error))

    with LoopbackServer(respond) as server:
        resolved = resolve(server.base_url)

    assert [r["id"] for r in resolved.resources["conditions"]] == ["c1"]
    assert "error OperationOutcome" in resolved.unavailable["observations"]


def test_an_operation_outcome_answer_is_unavailable() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}
    with LoopbackServer(lambda _: Reply(body=outcome)) as server:
        resolved = resolve(server.base_url)

    assert "conditions" in resolved.unavailable and resolved.resources == {}


@pytest.mark.parametrize(
    ("member", "value"),
    [("entry", 5), ("entry", True), ("entry", "x"), ("link", 5), ("link", {"relation": "next"})],
)
def test_a_server_bundle_whose_entry_or_link_is_not_an_array_is_unavailable(
    member: str, value: Any
) -> None:
    """Bad input from the FHIR server (issue 17): the key is unavailable, never a 500."""
    bundle = {"resourceType": "Bundle", "type": "searchset", member: value}
    with LoopbackServer(lambda _: Reply(body=bundle)) as server:
        resolved = resolve(server.base_url)

    assert resolved.resources == {}
    assert (
        f"has {'an' if member == 'entry' else 'a'} {member} that is not an array"
        in (resolved.unavailable["conditions"])
    )


def test_answers_that_are_not_json_or_too_large_are_unavailable() -> None:
    def respond(seen: Seen) -> Reply:
        if seen.path.startswith("/fhir/Condition"):
            return Reply(body=b"<html>login</html>")
        return Reply(body=_bundle(*[_CONDITION] * 50))

    with LoopbackServer(respond) as server:
        resolved = resolve(server.base_url, FHIR_MAX_RESPONSE_BYTES=2000)

    assert resolved.unavailable["conditions"] == "the FHIR server's answer is not JSON"
    assert "larger than 2000 bytes" in resolved.unavailable["observations"]


def test_a_missing_resource_read_is_no_data_but_a_missing_search_is_unavailable() -> None:
    with LoopbackServer(lambda _: Reply(404, body={"resourceType": "OperationOutcome"})) as srv:
        resolved = resolve(srv.base_url)

    assert resolved.resources["patient"] == []
    assert "HTTP 404" in resolved.unavailable["conditions"]


def test_an_unknown_token_makes_only_its_key_unavailable() -> None:
    templates = {**_templates(), "encounter": "Encounter/{{context.encounterId}}"}
    with LoopbackServer() as server:
        fetcher = fetcher_for(
            server.base_url,
            TOKEN,
            {"patientId": "p-1"},
            {"FHIR_ALLOWED_SERVERS": [server.base_url]},
        )
        resolved = resolve_prefetch({}, templates, fetcher)

    assert "{{context.encounterId}}" in resolved.unavailable["encounter"]
    assert resolved.has("conditions")
    assert not any(s.path.startswith("/fhir/Encounter") for s in server.seen)


def test_one_pooled_session_serves_every_call() -> None:
    with LoopbackServer() as server:
        resolve(server.base_url, FHIR_WORKERS=1)
        resolve(server.base_url, FHIR_WORKERS=1)

    assert fhir_client.session() is fhir_client.session()
    # Ten requests over one kept-alive connection: the pool reused it.
    assert len({s.client_port for s in server.seen}) == 1


def test_cookies_from_one_call_are_never_sent_on_another() -> None:
    def respond(_: Seen) -> Reply:
        return Reply(body=_bundle(), headers={"Set-Cookie": "session=abc; Path=/"})

    with LoopbackServer(respond) as server:
        resolve(server.base_url)
        resolve(server.base_url)

    assert all("cookie" not in s.headers for s in server.seen)


def test_reasons_never_carry_the_token_or_the_patient() -> None:
    with LoopbackServer(lambda _: Reply(401, body={"resourceType": "OperationOutcome"})) as srv:
        resolved = resolve(srv.base_url, context={"patientId": "secret-patient-42"})

    text = json.dumps(resolved.unavailable)
    assert TOKEN not in text and "secret-patient-42" not in text
    assert "HTTP 401" in resolved.unavailable["conditions"]


def test_medication_references_stay_on_the_allowed_server() -> None:
    def respond(seen: Seen) -> Reply:
        if seen.path.startswith("/fhir/MedicationStatement"):
            statements = [
                {
                    "resourceType": "MedicationStatement",
                    "id": f"ms{n}",
                    "status": "active",
                    "medicationReference": {"reference": reference},
                    "subject": {"reference": "Patient/p-1"},
                }
                for n, reference in enumerate(
                    [
                        f"{elsewhere.base_url}/Medication/far",
                        f"{base_url}/Medication/near/_history/2",
                        "#contained",
                    ]
                )
            ]
            return Reply(body=_bundle(*statements))
        if seen.path.startswith("/fhir/Medication/"):
            return Reply(body={"resourceType": "Medication", "id": seen.path.rsplit("/", 1)[1]})
        return Reply(body=_bundle())

    with LoopbackServer() as elsewhere, LoopbackServer(respond) as server:
        base_url = server.base_url
        resolved = resolve(server.base_url)

    assert elsewhere.seen == []
    medication_reads = [s.path for s in server.seen if s.path.startswith("/fhir/Medication/")]
    assert medication_reads == ["/fhir/Medication/near"]
    kinds = [r["resourceType"] for r in resolved.resources["medicationStatements"]]
    assert kinds.count("Medication") == 1


def test_a_referenced_medication_that_cannot_be_read_makes_the_key_unavailable() -> None:
    def respond(seen: Seen) -> Reply:
        if seen.path.startswith("/fhir/MedicationRequest"):
            request = {
                "resourceType": "MedicationRequest",
                "id": "mr1",
                "status": "active",
                "intent": "order",
                "medicationReference": {"reference": "Medication/m1"},
                "subject": {"reference": "Patient/p-1"},
            }
            return Reply(body=_bundle(request))
        if seen.path.startswith("/fhir/Medication/"):
            return Reply(403)
        return Reply(body=_bundle())

    with LoopbackServer(respond) as server:
        resolved = resolve(server.base_url)

    # An unreadable drug could be the epinephrine: missing, not absent.
    assert "HTTP 403" in resolved.unavailable["medicationRequests"]
    assert resolved.has("medicationStatements")


def test_nothing_logged_carries_the_token_or_the_patient(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with LoopbackServer(lambda _: Reply(503)) as server:
        resolve(server.base_url, context={"patientId": "secret-patient-42"})

    assert caplog.records  # the unavailable keys are logged
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert "secret-patient-42" not in text and TOKEN not in text


def test_null_and_present_keys_are_never_queried() -> None:
    with LoopbackServer() as server:
        resolved = resolve(
            server.base_url,
            prefetch={"observations": None, "conditions": _bundle(_CONDITION), "patient": None},
        )

    queried = sorted(urlsplit(s.path).path.split("/")[2] for s in server.seen)
    assert queried == ["MedicationRequest", "MedicationStatement"]
    assert resolved.resources["observations"] == []
