"""The FHIR fallback against a real FHIR server (sekmet-fhir) on loopback.

Service requirements (cds-hooks-2.0-service-requirements.tsv): 34 (data from the
prefetch or the FHIR server), 52 (OperationOutcomes in prefetched data), 61 (the access
token with each call).
"""

from __future__ import annotations

from typing import Any

from service.fhir import fetcher_for
from service.pipeline.prefetch import ResolvedPrefetch, prefetch_templates, resolve_prefetch
from tests.support.fhir_fallback import (
    MEDREF_PATIENT,
    PAGED_OBSERVATIONS,
    PAGED_PATIENT,
    SANDBOX_PATIENT,
    make_app,
    sandbox_body,
)
from tests.support.sekmet_server import TOKEN, SekmetServer

ALL_KEYS = {"patient", "conditions", "observations", "medicationStatements", "medicationRequests"}
# The optional keys of the course rule (docs/clinical-rules.md §2): this server holds none.
OPTIONAL = {"medicationAdministrations", "medicationDispenses"}


def _templates() -> dict[str, str]:
    return dict(prefetch_templates(make_app([]).extensions["mcas"].knowledge))


def resolve(
    server: SekmetServer,
    prefetch: dict[str, Any],
    *,
    token: str | None = TOKEN,
    patient_id: str = SANDBOX_PATIENT,
    **config: Any,
) -> ResolvedPrefetch:
    settings = {"FHIR_ALLOWED_SERVERS": [server.base_url], **config}
    fetcher = fetcher_for(server.base_url, token, {"patientId": patient_id}, settings)
    return resolve_prefetch(prefetch, _templates(), fetcher)


def ids(resolved: ResolvedPrefetch, key: str) -> set[str]:
    return {r["id"] for r in resolved.resources[key]}


def test_all_keys_missing_are_fetched_with_the_prefetch_queries(fhir_server: SekmetServer) -> None:
    resolved = resolve(fhir_server, {})

    assert resolved.unavailable == {}
    assert set(resolved.resources) == ALL_KEYS | OPTIONAL
    assert all(resolved.resources[key] == [] for key in OPTIONAL)
    # What the Sandbox prefetched, and (rules v2) the completed prednisone too: a completed
    # order is "on record" (docs/clinical-rules.md §6.19). Hemoglobin (718-7 is no mediator
    # code) stays out.
    sandbox = sandbox_body()["prefetch"]
    for key in ALL_KEYS - {"patient", "medicationRequests"}:
        assert ids(resolved, key) == {e["resource"]["id"] for e in sandbox[key]["entry"]}, key
    assert ids(resolved, "medicationRequests") == {"mcas-mr-epinephrine", "mcas-mr-prednisone"}
    assert ids(resolved, "patient") == {SANDBOX_PATIENT}


def test_only_the_missing_keys_are_fetched(fhir_server: SekmetServer) -> None:
    sandbox = sandbox_body()["prefetch"]
    # An empty conditions Bundle is real absence and must win over the server's four.
    prefetch = {
        "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        "medicationStatements": sandbox["medicationStatements"],
    }
    resolved = resolve(fhir_server, prefetch)

    assert resolved.unavailable == {}
    assert resolved.resources["conditions"] == []
    assert len(resolved.resources["observations"]) == 3
    assert ids(resolved, "medicationRequests") == {"mcas-mr-epinephrine", "mcas-mr-prednisone"}


def test_null_means_no_data_and_is_not_queried(fhir_server: SekmetServer) -> None:
    # The server holds three mediator results; null must still mean none.
    resolved = resolve(fhir_server, {"observations": None, "patient": None})

    assert resolved.resources["observations"] == []
    assert resolved.resources["patient"] == []
    assert "observations" not in resolved.unavailable


def test_operation_outcome_in_place_of_data_is_fetched_instead(
    fhir_server: SekmetServer,
) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "search timed out"}],
    }
    resolved = resolve(fhir_server, {"conditions": outcome})

    assert len(resolved.resources["conditions"]) == 4


def _bundle_with_outcome(severity: str, conditions: list[dict[str, Any]]) -> dict[str, Any]:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": "incomplete", "diagnostics": "partial"}],
    }
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": c} for c in conditions] + [{"resource": outcome}],
    }


def test_bundle_with_an_error_outcome_entry_is_fetched_instead(fhir_server: SekmetServer) -> None:
    resolved = resolve(fhir_server, {"conditions": _bundle_with_outcome("error", [])})

    assert len(resolved.resources["conditions"]) == 4


def test_bundle_with_a_warning_outcome_entry_is_used_as_sent(fhir_server: SekmetServer) -> None:
    one = sandbox_body()["prefetch"]["conditions"]["entry"][0]["resource"]
    resolved = resolve(fhir_server, {"conditions": _bundle_with_outcome("warning", [one])})

    assert ids(resolved, "conditions") == {one["id"]}


def test_results_over_several_pages_are_all_read(fhir_server: SekmetServer) -> None:
    first = fhir_server.get(f"Observation?patient={PAGED_PATIENT}")
    assert any(link["relation"] == "next" for link in first["link"])  # the server does page

    resolved = resolve(fhir_server, {}, patient_id=PAGED_PATIENT)

    assert len(resolved.resources["observations"]) == PAGED_OBSERVATIONS
    assert len(ids(resolved, "observations")) == PAGED_OBSERVATIONS


def test_more_pages_than_the_cap_make_the_key_unavailable_not_partial(
    fhir_server: SekmetServer,
) -> None:
    resolved = resolve(fhir_server, {}, patient_id=PAGED_PATIENT, FHIR_MAX_PAGES=2)

    assert "observations" not in resolved.resources
    assert "more than 2 pages" in resolved.unavailable["observations"]
    assert resolved.has("conditions")  # one page: unaffected


def test_a_paged_prefetch_bundle_is_completed_from_the_allowed_server(
    fhir_server: SekmetServer,
) -> None:
    first_page = fhir_server.get(f"Observation?patient={PAGED_PATIENT}")
    assert len(first_page["entry"]) < PAGED_OBSERVATIONS

    resolved = resolve(fhir_server, {"observations": first_page}, patient_id=PAGED_PATIENT)

    assert len(ids(resolved, "observations")) == PAGED_OBSERVATIONS


def test_a_paged_prefetch_bundle_without_an_allowed_server_is_unavailable(
    fhir_server: SekmetServer,
) -> None:
    first_page = fhir_server.get(f"Observation?patient={PAGED_PATIENT}")
    templates = _templates()

    without_server = resolve_prefetch({"observations": first_page}, templates, None)
    refused = resolve_prefetch(
        {"observations": first_page},
        templates,
        fetcher_for(fhir_server.base_url, TOKEN, {"patientId": PAGED_PATIENT}, {}),
    )

    for resolved in (without_server, refused):
        assert "observations" not in resolved.resources
        assert resolved.unavailable["observations"]


def test_401_from_the_server_makes_the_keys_unavailable_with_the_reason(
    fhir_server: SekmetServer,
) -> None:
    resolved = resolve(fhir_server, {}, token="not-the-token")

    assert resolved.resources == {}
    assert set(resolved.unavailable) == ALL_KEYS
    for reason in resolved.unavailable.values():
        assert "HTTP 401" in reason and "not-the-token" not in reason


def test_no_token_at_all_gets_the_same_401_answer(fhir_server: SekmetServer) -> None:
    resolved = resolve(fhir_server, {}, token=None)

    assert "HTTP 401" in resolved.unavailable["conditions"]


def test_403_for_a_type_outside_the_token_scope_makes_only_that_key_unavailable(
    fhir_server: SekmetServer,
) -> None:
    token = fhir_server.scoped_token(["Patient", "Condition", "Observation", "MedicationStatement"])

    resolved = resolve(fhir_server, {}, token=token)

    assert set(resolved.unavailable) == {"medicationRequests"}
    assert "HTTP 403" in resolved.unavailable["medicationRequests"]
    assert len(resolved.resources["conditions"]) == 4


def test_medications_referenced_by_a_fetched_statement_are_read_too(
    fhir_server: SekmetServer,
) -> None:
    resolved = resolve(fhir_server, {}, patient_id=MEDREF_PATIENT)

    assert resolved.unavailable == {}
    statements = resolved.resources["medicationStatements"]
    medications = [r for r in statements if r["resourceType"] == "Medication"]
    # Read once for the two statements naming it; the one that no longer exists is
    # left unknown, as it would be in a prefetch.
    assert [m["id"] for m in medications] == ["med-levocetirizine"]
    assert len(statements) == 4
