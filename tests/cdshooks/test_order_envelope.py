"""The order-select and order-sign envelope (issue 15): clear 400s naming the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.cdshooks.envelope import load_hook_request
from tests.support.orders import SELECT_URL, SIGN_URL, as_hook, order_request

SIGN = "order-trigger-drug--fires--ibuprofen-at-order-sign"


def _fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert b"Traceback" not in response.data
    return [e for issue in body["issue"] for e in issue.get("expression", [])]


def _entry(request: dict[str, Any]) -> dict[str, Any]:
    return request["context"]["draftOrders"]["entry"][0]["resource"]  # type: ignore[no-any-return]


CHANGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "draftOrders not a Bundle": (
        lambda r: r["context"].update(draftOrders=[{"resourceType": "MedicationRequest"}]),
        "context.draftOrders"),
    "draftOrders another resource": (
        lambda r: r["context"].update(draftOrders={"resourceType": "MedicationRequest"}),
        "context.draftOrders"),
    "draftOrders missing": (lambda r: r["context"].pop("draftOrders"), "context.draftOrders"),
    "an unknown resource type inside": (
        lambda r: _entry(r).update(resourceType="Patient"),
        "context.draftOrders.entry.0.resource.resourceType"),
    "a draft without an id": (
        lambda r: _entry(r).pop("id"), "context.draftOrders.entry.0.resource.id"),
    "an entry that is no resource": (
        lambda r: r["context"]["draftOrders"]["entry"].insert(0, {"resource": "x"}),
        "context.draftOrders.entry.0.resource"),
    "entry not an array": (
        lambda r: r["context"]["draftOrders"].update(entry={}), "context.draftOrders.entry"),
    "userId missing": (lambda r: r["context"].pop("userId"), "context.userId"),
    "patientId missing": (lambda r: r["context"].pop("patientId"), "context.patientId"),
    "the other hook": (lambda r: r.update(hook="order-select"), "hook"),
    "patient-view at the order service": (lambda r: r.update(hook="patient-view"), "hook"),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_order_sign_names_the_field(client: FlaskClient, name: str) -> None:
    request = order_request(SIGN)
    change, field = CHANGES[name]
    change(request)
    assert field in _fields(client.post(SIGN_URL, json=request))


def test_a_selection_that_names_no_draft_order_is_400(client: FlaskClient) -> None:
    request = as_hook(order_request(SIGN), "order-select",
                      ["MedicationRequest/draft-ibuprofen", "MedicationRequest/elsewhere"])
    assert _fields(client.post(SELECT_URL, json=request)) == ["context.selections.1"]


def test_order_select_needs_selections(client: FlaskClient) -> None:
    request = as_hook(order_request(SIGN), "order-select")
    assert "context.selections" in _fields(client.post(SELECT_URL, json=request))


def test_the_patient_view_service_refuses_an_order_hook(client: FlaskClient) -> None:
    assert "hook" in _fields(client.post("/cds-services/mcas-therapy-tier",
                                         json=order_request(SIGN)))


def test_other_order_types_are_accepted_and_not_judged(client: FlaskClient) -> None:
    request = order_request(SIGN)
    entries = request["context"]["draftOrders"]["entry"]
    imaging = copy.deepcopy(entries[0]["resource"])
    entries.append({"resource": {
        "resourceType": "ServiceRequest", "id": "draft-ct", "status": "draft",
        "intent": "order", "code": {"text": "CT abdomen with iohexol contrast"},
        "subject": imaging["subject"]}})
    response = client.post(SIGN_URL, json=request)
    assert response.status_code == 200
    # contrast inside an imaging order is not seen (docs/clinical-rules.md §7): one card,
    # for the ibuprofen draft only
    cards = response.get_json()["cards"]
    assert [c["extension"]["org.mcas-cds.draft-order"] for c in cards] == [
        "MedicationRequest/draft-ibuprofen"]


def test_a_patient_view_context_with_draft_orders_is_not_read_as_orders() -> None:
    """Found by the route fuzz: patient-view keeps unknown context keys; a draftOrders
    there (even with a null entry) is never read, so it cannot fail the request."""
    body = {"hook": "patient-view", "hookInstance": "d3b07384-d9a0-4c9b-8f2e-0e4b2a1c9f11",
            "context": {"patientId": "p-1", "draftOrders": {"resourceType": "Bundle",
                                                            "entry": [None]},
                        "selections": "x"}}
    request = load_hook_request(body)
    assert request.draft_orders == () and request.selections is None
