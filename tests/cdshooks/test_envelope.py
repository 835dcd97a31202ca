"""Envelope validation and error answers (CDS Hooks 2.0 reqs 1, 3, 14, 76)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app

URL = "/cds-services/mcas-therapy-tier"


def _assert_outcome(response: Any, status: int) -> list[str]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] and all(issue["diagnostics"] for issue in body["issue"])
    assert b"Traceback" not in response.data
    return [issue["diagnostics"] for issue in body["issue"]]


def test_body_that_is_not_json_is_400(client: FlaskClient) -> None:
    messages = _assert_outcome(
        client.post(URL, data=b"{not json", content_type="application/json"), 400
    )
    assert "not valid JSON" in messages[0]


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"null", b"42"])
def test_body_that_is_not_an_object_is_400(client: FlaskClient, body: bytes) -> None:
    _assert_outcome(client.post(URL, data=body, content_type="application/json"), 400)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hook": "order-sign"}, "hook"),
        ({"hook": None}, "hook"),
        ({"hookInstance": "not-a-uuid"}, "hookInstance"),
        ({"context": {}}, "context.patientId"),
        ({"context": {"patientId": ""}}, "context.patientId"),
        ({"context": "mcas-1"}, "context"),
        ({"fhirServer": "not a url"}, "fhirServer"),
        ({"prefetch": []}, "prefetch"),
    ],
)
def test_invalid_envelope_names_the_field(
    client: FlaskClient, sandbox_hook: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    body = {**sandbox_hook["body"], **change}
    messages = _assert_outcome(client.post(URL, json=body), 400)
    assert any(message.startswith(field + ":") for message in messages), messages


@pytest.mark.parametrize("missing", ["hook", "hookInstance", "context"])
def test_missing_member_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], missing: str
) -> None:
    body = {k: v for k, v in sandbox_hook["body"].items() if k != missing}
    messages = _assert_outcome(client.post(URL, json=body), 400)
    assert any(message.startswith(missing) for message in messages)


def test_errors_never_echo_patient_data(client: FlaskClient, sandbox_hook: dict[str, Any]) -> None:
    body = {**sandbox_hook["body"], "hookInstance": "Claire Hartley MRN-40021877"}
    response = client.post(URL, json=body)
    _assert_outcome(response, 400)
    assert b"Hartley" not in response.data and b"MRN" not in response.data


def test_unknown_service_is_404(client: FlaskClient, sandbox_hook: dict[str, Any]) -> None:
    _assert_outcome(client.post("/cds-services/no-such-service", json=sandbox_hook["body"]), 404)


def test_wrong_method_is_405(client: FlaskClient) -> None:
    response = client.get(URL)
    _assert_outcome(response, 405)
    assert "POST" in response.headers["Allow"]
    _assert_outcome(client.post("/cds-services"), 405)


def test_body_over_the_limit_is_413(sandbox_hook: dict[str, Any]) -> None:
    small = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 1024})
    body = json.dumps(sandbox_hook["body"]).encode()
    assert len(body) > 1024
    response = small.test_client().post(URL, data=body, content_type="application/json")
    _assert_outcome(response, 413)
