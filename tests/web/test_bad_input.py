"""Bad input is a 4xx naming the field, never a 5xx (issue 17, "5xx on bad input").

Each test is named for a finding of the red-team run; docs/openapi.yaml and the route
fuzz test (tests/web/test_route_fuzz.py) cover the rest of the input space.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from tests.support.outcomes import assert_outcome
from tests.support.storage_fixtures import ADMIN_TOKEN
from tests.support.thresholds_admin import ADMIN, with_tier1

HOOK = "/cds-services/mcas-therapy-tier"


def post_json(client: FlaskClient, url: str, body: Any, **kwargs: Any) -> Any:
    """POST ``body`` as ASCII JSON (lone surrogates as \\u escapes, as a client sends them)."""
    return client.post(url, data=json.dumps(body), content_type="application/json", **kwargs)


def _hook_body(sandbox_hook: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(sandbox_hook["body"])
    body["prefetch"][key] = value
    return body


# -- prefetch shapes ------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [7, 0, 3.5])
def test_prefetch_entry_that_is_a_number_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], entry: Any
) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entry}
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "conditions", bundle))
    assert_outcome(response, 400, "prefetch.conditions.entry")


@pytest.mark.parametrize("entry", [True, False])
def test_prefetch_entry_that_is_a_boolean_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], entry: Any
) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entry}
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "observations", bundle))
    assert_outcome(response, 400, "prefetch.observations.entry")


@pytest.mark.parametrize("entry", [[1, 2], ["Condition"], [None], [[]], "entries", {"a": 1}])
def test_prefetch_entry_that_is_not_an_array_of_objects_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], entry: Any
) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entry}
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "conditions", bundle))
    assert_outcome(response, 400, "prefetch.conditions.entry")


@pytest.mark.parametrize(
    "value",
    [7, True, "Bundle", [], [{"resourceType": "Condition"}], {}, {"resourceType": 5}],
    ids=["number", "boolean", "string", "empty-array", "array", "no-resourceType", "bad-type"],
)
def test_prefetch_value_that_is_not_a_bundle_or_resource_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], value: Any
) -> None:
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "medicationStatements", value))
    assert_outcome(response, 400, "prefetch.medicationStatements")


@pytest.mark.parametrize("link", [5, True, "next", [1]])
def test_prefetch_bundle_link_that_is_not_an_array_of_objects_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], link: Any
) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": link, "entry": []}
    response = client.post(HOOK, json=_hook_body(sandbox_hook, "conditions", bundle))
    assert_outcome(response, 400, "prefetch.conditions.link")


@pytest.mark.parametrize("issue", [5, True, "error", [1], [{"severity": 5}]])
def test_prefetch_bundle_with_an_unreadable_operation_outcome_entry_is_unavailable_data(
    client: FlaskClient, sandbox_hook: dict[str, Any], issue: Any
) -> None:
    """An OperationOutcome entry whose issues cannot be read could be an error: the key's
    data count as unavailable, exactly as with an ``error`` entry (never a 5xx)."""

    def answer(issues: Any) -> Any:
        outcome = {"resourceType": "OperationOutcome", "issue": issues}
        bundle = {"resourceType": "Bundle", "entry": [{"resource": outcome}]}
        body = _hook_body(sandbox_hook, "conditions", bundle)
        del body["fhirServer"]  # nothing to fetch it from: the key stays unavailable
        return client.post(HOOK, json=body)

    expected = answer([{"severity": "error", "code": "processing"}])
    assert expected.status_code == 412
    got = answer(issue)
    assert (got.status_code, got.get_json()) == (expected.status_code, expected.get_json())


def test_prefetch_null_entry_and_unused_entry_members_still_answer(
    client: FlaskClient, sandbox_hook: dict[str, Any]
) -> None:
    """What stays accepted: ``entry: null`` (no entries), entries without a resource."""
    body = _hook_body(sandbox_hook, "observations", {"resourceType": "Bundle", "entry": None})
    body["prefetch"]["medicationStatements"] = {
        "resourceType": "Bundle",
        "entry": [{"fullUrl": "urn:uuid:1"}, {"resource": None}],
    }
    assert client.post(HOOK, json=body).status_code == 200


# -- feedback -------------------------------------------------------------------------------

FEEDBACK = "/cds-services/mcas-therapy-tier/feedback"


def _item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "card": "2f4b8c1e-5d0a-4c7e-9b3f-1a2b3c4d5e6f",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-25T11:44:40Z",
        "overrideReason": {
            "reason": {"code": "not-now", "system": "http://example.org/r", "display": "Later"},
            "userComment": "Discussed with the patient.",
        },
    }
    item.update(changes)
    return item


@pytest.mark.parametrize(
    "stamp",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:59:59+01:00",
        "9999-12-31T23:00:00-14:00",
        "9999-12-31T23:59:59.999999-00:01",
    ],
)
def test_feedback_outcome_timestamp_at_year_1_or_9999_with_an_offset_is_400(
    storage_app: Flask, stamp: str
) -> None:
    response = post_json(
        storage_app.test_client(), FEEDBACK, {"feedback": [_item(outcomeTimestamp=stamp)]}
    )
    assert_outcome(response, 400, "feedback.0.outcomeTimestamp")


def test_feedback_outcome_timestamp_at_the_edges_of_utc_is_stored_and_reported(
    storage_app: Flask,
) -> None:
    client = storage_app.test_client()
    edges = ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59Z"]
    response = client.post(FEEDBACK, json={"feedback": [_item(outcomeTimestamp=s) for s in edges]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"stored": 3, "duplicates": 0}
    report = client.get("/admin/api/feedback-report", headers=ADMIN)
    assert report.status_code == 200, report.data[:300]


# Where a client's text reaches the database, as (JSON path in the item, field name).
_TEXT_FIELDS = [
    (("card",), "feedback.0.card"),
    (("acceptedSuggestions", 0, "id"), "feedback.0.acceptedSuggestions.0.id"),
    (("overrideReason", "reason", "code"), "feedback.0.overrideReason.reason.code"),
    (("overrideReason", "reason", "system"), "feedback.0.overrideReason.reason.system"),
    (("overrideReason", "reason", "display"), "feedback.0.overrideReason.reason.display"),
    (("overrideReason", "userComment"), "feedback.0.overrideReason.userComment"),
]
_BAD_CHARACTERS = {"nul": "\x00", "lone-surrogate": "\ud800", "low-surrogate": "\udfff"}


def _item_with(path: tuple[Any, ...], text: str) -> dict[str, Any]:
    item = _item(outcome="accepted", acceptedSuggestions=[{"id": "suggestion-1"}])
    target: Any = item
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = f"before{text}after"
    return item


@pytest.mark.parametrize("character", _BAD_CHARACTERS.values(), ids=_BAD_CHARACTERS.keys())
@pytest.mark.parametrize(("path", "field"), _TEXT_FIELDS, ids=[f for _, f in _TEXT_FIELDS])
def test_nul_or_lone_surrogate_in_a_feedback_string_is_400_naming_the_field(
    storage_app: Flask, path: tuple[Any, ...], field: str, character: str
) -> None:
    """Same answer on both databases (SQLite stored them, PostgreSQL refused NUL)."""
    response = post_json(
        storage_app.test_client(), FEEDBACK, {"feedback": [_item_with(path, character)]}
    )
    assert_outcome(response, 400, field)


def test_poison_batch_with_a_nul_is_refused_for_good_not_retried_forever(
    storage_app: Flask,
) -> None:
    """One item with a NUL among valid ones: a 400 naming it (no Retry-After: the EHR
    must not retry it as it is), and the batch without it is stored."""
    client = storage_app.test_client()
    good = [_item(card=f"card-{n}") for n in range(3)]
    poisoned = [good[0], _item(card="card-x", overrideReason={"userComment": "a\x00b"}), *good[1:]]
    for _attempt in range(3):  # an EHR retrying gets the same final answer every time
        response = post_json(client, FEEDBACK, {"feedback": poisoned})
        assert_outcome(response, 400, "feedback.1.overrideReason.userComment")
        assert "Retry-After" not in response.headers
    response = client.post(FEEDBACK, json={"feedback": good})
    assert response.get_json() == {"stored": 3, "duplicates": 0}


@pytest.mark.parametrize("character", _BAD_CHARACTERS.values(), ids=_BAD_CHARACTERS.keys())
def test_nul_or_lone_surrogate_in_the_patient_id_is_400(
    storage_app: Flask, sandbox_hook: dict[str, Any], character: str
) -> None:
    body = copy.deepcopy(sandbox_hook["body"])
    body["context"]["patientId"] = f"mcas{character}1"
    response = post_json(storage_app.test_client(), HOOK, body)
    assert_outcome(response, 400, "context.patientId")


@pytest.mark.parametrize("character", _BAD_CHARACTERS.values(), ids=_BAD_CHARACTERS.keys())
@pytest.mark.parametrize("member", ["author", "reason"])
def test_nul_or_lone_surrogate_in_an_administrator_change_is_400(
    storage_app: Flask, member: str, character: str
) -> None:
    active = storage_app.test_client().get("/admin/api/thresholds", headers=ADMIN).get_json()
    body = {
        "values": with_tier1(42),
        "base_version": active["version"],
        "author": "Dr A. Admin",
        "reason": "Committee decision",
        member: f"bad{character}text",
    }
    response = post_json(
        storage_app.test_client(), "/admin/api/thresholds/apply", body, headers=ADMIN
    )
    assert_outcome(response, 400, member)


@pytest.mark.parametrize("character", _BAD_CHARACTERS.values(), ids=_BAD_CHARACTERS.keys())
def test_fhir_access_token_that_is_not_visible_ascii_is_400(
    client: FlaskClient, sandbox_hook: dict[str, Any], character: str
) -> None:
    """It is sent on as an HTTP header, which cannot carry it (was a 500 in the fetch)."""
    body = copy.deepcopy(sandbox_hook["body"])
    body["fhirAuthorization"] = {
        "access_token": f"abc{character}def",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "mcas-cds",
    }
    response = post_json(client, HOOK, body)
    assert_outcome(response, 400, "fhirAuthorization.access_token")


# -- deeply nested JSON -----------------------------------------------------------------------


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Flask:
    """Nesting does not depend on the database: the embedded SQLite, administered."""
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "ADMIN_TOKEN": ADMIN_TOKEN})


_NESTED_ROUTES = [
    ("POST", HOOK),
    ("POST", FEEDBACK),
    ("POST", "/admin/api/thresholds/validate"),
    ("POST", "/admin/api/thresholds/preview"),
    ("POST", "/admin/api/thresholds/apply"),
    ("POST", "/admin/api/thresholds/rollback"),
]


@pytest.mark.parametrize("depth", [65, 2_000, 100_000])
@pytest.mark.parametrize(("method", "url"), _NESTED_ROUTES, ids=[u for _, u in _NESTED_ROUTES])
def test_deeply_nested_json_is_400(sqlite_app: Flask, method: str, url: str, depth: int) -> None:
    """Nesting deeper than MAX_JSON_DEPTH (64), checked before parsing (was a
    RecursionError, 500, past about 1,000 levels)."""
    nested = "[" * depth + "]" * depth
    body = f'{{"feedback": {nested}, "values": {nested}, "prefetch": {{"patient": {nested}}}}}'
    response = sqlite_app.test_client().open(
        url, method=method, data=body, content_type="application/json", headers=ADMIN
    )
    issues = assert_outcome(response, 400)
    assert "nested" in issues[0]["diagnostics"]


def test_json_nested_to_the_limit_is_read(sqlite_app: Flask) -> None:
    """64 levels of arrays inside a userComment's neighbour: accepted and ignored."""
    item = _item()
    item["extension"] = json.loads("[" * 60 + "]" * 60)  # + body, list, item, extension
    response = post_json(sqlite_app.test_client(), FEEDBACK, {"feedback": [item]})
    assert response.status_code == 200, response.get_json()


# -- path parameters --------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["2147483648", "9223372036854775808", "99999999999999999999"])
def test_admin_version_number_too_large_for_the_database_is_404(
    storage_app: Flask, number: str
) -> None:
    response = storage_app.test_client().get(
        f"/admin/api/thresholds/versions/{number}", headers=ADMIN
    )
    assert_outcome(response, 404)


@pytest.mark.parametrize("number", [2**31, 2**63, 99999999999999999999])
def test_rollback_to_a_version_number_too_large_for_the_database_is_400(
    storage_app: Flask, number: int
) -> None:
    active = storage_app.test_client().get("/admin/api/thresholds", headers=ADMIN).get_json()
    body = {
        "to_version": number,
        "base_version": active["version"],
        "author": "Dr A. Admin",
        "reason": "Committee decision",
    }
    response = post_json(
        storage_app.test_client(), "/admin/api/thresholds/rollback", body, headers=ADMIN
    )
    assert_outcome(response, 400, "to_version")
