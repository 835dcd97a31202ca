"""The CDS Hooks Sandbox's Rx View request (docs/integration-guide.md 6.6), as its source
builds it: one draft `request-123` with a product code of its own list, no intent, the
"Treating" condition sent as a single concept in reasonCode. The service must answer the
ranitidine card, whose suggestion the Sandbox can apply (create famotidine first)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient

from tests.support.orders import SELECT_URL, SIGN_URL, order_request

NAME = "order-ranitidine--fires--ranitidine-draft"


def _sandbox_request(text: str, code: str, hook: str = "order-select") -> dict[str, Any]:
    request = order_request(NAME, datetime.now(UTC))
    patient = request["context"]["patientId"]
    draft = {
        "resourceType": "MedicationRequest", "id": "request-123", "status": "draft",
        "subject": {"reference": f"Patient/{patient}"},
        "authoredOn": datetime.now(UTC).strftime("%Y-%m-%d"),
        "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1,
                                                     "periodUnit": "d"}},
                               "doseAndRate": [{"doseQuantity": {
                                   "value": 1, "system": "http://unitsofmeasure.org",
                                   "code": "{pill}"}}]}],
        "medicationCodeableConcept": {"text": text, "coding": [{
            "display": text, "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "code": code}]},
        "reasonCode": {"text": "Idiopathic mast cell activation syndrome"},
    }
    request["hook"] = hook
    request["context"] = {"userId": "Practitioner/example", "patientId": patient,
                          "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]}}
    if hook == "order-select":
        request["context"]["selections"] = ["MedicationRequest/request-123"]
    return request


def test_the_rx_view_ranitidine_draft_gets_the_replacing_suggestion(client: FlaskClient) -> None:
    response = client.post(SELECT_URL, json=_sandbox_request(
        "Ranitidine 150 MG Oral Tablet [Zantac]", "827189"))
    assert response.status_code == 200, response.get_data(as_text=True)
    [card] = response.get_json()["cards"]
    assert card["source"]["topic"]["code"] == "order-ranitidine"
    assert card["summary"].startswith("Ranitidine 150 MG Oral Tablet [Zantac]: ")
    [suggestion] = card["suggestions"]
    first, second = suggestion["actions"]
    # The Sandbox applies the first action only: it must be the famotidine draft, with the
    # text and coding code the Sandbox reads, and no dose.
    assert first["type"] == "create"
    concept = first["resource"]["medicationCodeableConcept"]
    assert concept["text"] == "famotidine oral tablet" and concept["coding"][0]["code"] == "4278"
    assert "dosageInstruction" not in first["resource"]
    assert second == {"type": "delete", "resourceId": "MedicationRequest/request-123",
                      "description": second["description"]}


def test_the_famotidine_the_sandbox_puts_in_place_gets_no_card(client: FlaskClient) -> None:
    response = client.post(SELECT_URL, json=_sandbox_request("famotidine", "4278"))
    assert response.status_code == 200 and response.get_json()["cards"] == []


def test_rx_sign_sends_the_same_draft(client: FlaskClient) -> None:
    response = client.post(SIGN_URL, json=_sandbox_request(
        "Naproxen 750 MG", "332249", hook="order-sign"))
    assert [c["source"]["topic"]["code"] for c in response.get_json()["cards"]] == [
        "order-trigger-drug"]
